/**
 * The control plane's state: one SQLite file (better-sqlite3, synchronous, WAL journal) under the
 * data directory. Each module owns its tables and creates them with `migrate`, which runs a
 * module's numbered steps once each, in a transaction, recording them in `schema_migrations`, so
 * a restart (or an upgrade adding steps) finds the same state.
 */
import Database from 'better-sqlite3';

export type Db = Database.Database;

/** Open (creating if needed) the database at `file`, or an in-memory one for ':memory:'. */
export function openDatabase(file: string): Db {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (module TEXT NOT NULL, step INTEGER NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (module, step))',
  );
  return db;
}

/** Run `steps[i]` (SQL text, may hold several statements) for each i not yet applied to `module`. */
export function migrate(db: Db, module: string, steps: readonly string[]): void {
  const applied = new Set(
    (db.prepare('SELECT step FROM schema_migrations WHERE module = ?').all(module) as { step: number }[]).map((r) => r.step),
  );
  const record = db.prepare('INSERT INTO schema_migrations (module, step, applied_at) VALUES (?, ?, ?)');
  steps.forEach((sql, step) => {
    if (applied.has(step)) return;
    db.transaction(() => {
      db.exec(sql);
      record.run(module, step, new Date().toISOString());
    })();
  });
}

/** JSON column helpers: records are stored as their API shape. */
export function toJson(value: unknown): string {
  return JSON.stringify(value);
}

export function fromJson<T>(text: string): T {
  return JSON.parse(text) as T;
}
