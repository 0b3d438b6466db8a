import type { Clock } from '../../src/platform/clock.js';

/** A clock that stands still until the test moves it. */
export class FakeClock implements Clock {
  private time: number;

  constructor(start: Date | string) {
    this.time = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.time);
  }

  advance(ms: number): void {
    this.time += ms;
  }

  set(time: Date | string): void {
    this.time = new Date(time).getTime();
  }
}
