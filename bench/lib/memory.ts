/**
 * Runs `work`, sampling the RSS every 10 ms. What a benchmark reports is the growth over the RSS
 * at the start: that is what the work itself costs, whatever the process already held.
 */
export async function measured<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number; peakMb: number; startMb: number }> {
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const start = performance.now();
  const result = await work();
  const seconds = (performance.now() - start) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { result, seconds, peakMb: peak / 1024 / 1024, startMb: before / 1024 / 1024 };
}
