-- Restore drills: each run restores the latest backup into a scratch database, verifies it and
-- records how long that took (the measured recovery time) and how old the backup was (the
-- recovery point). The trust center publishes the latest. Instance-wide, not tenant data.
create table backup_drills (
  id uuid primary key,
  backup_id text not null,
  started_at timestamptz not null,
  duration_ms integer not null check (duration_ms >= 0),
  -- Age of the backup when the drill started, in seconds: the recovery point actually achieved.
  backup_age_seconds integer check (backup_age_seconds >= 0),
  outcome text not null check (outcome in ('passed', 'failed')),
  -- What was checked (tables, rows, audit heads) or what failed; never row contents.
  details jsonb not null default '{}'
);
create index backup_drills_started_at on backup_drills (started_at desc);
