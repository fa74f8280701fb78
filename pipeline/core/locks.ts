/**
 * PostgreSQL advisory locks tripflow takes, in one place. Every lock uses the two-key form
 * `pg_advisory_xact_lock(class, key)`, which never collides with the one-key form other software may
 * use. The classes are arbitrary constants that must differ from each other and never change while an
 * older process may still run beside a newer one: the ASCII bytes "tiql", "tiqm"... read as int4.
 */
export const LOCK = Object.freeze({
  /** (EVENTS, 1): held from drawing an audit event id until commit (db/migrations/2_audit.sql). */
  EVENTS: 1953067372,
  /** (REGISTRY, hashtext(sha256)): one registration of a content at a time (pipeline/landing/register.ts). */
  REGISTRY: 1953067375,
  /**
   * (INGESTION, id): shared by every step that writes an ingestion's trips into silver, groups or gold;
   * taken exclusively to withdraw them (pipeline/core/withdraw.ts), so a withdrawal never races a step.
   */
  INGESTION: 1953067373,
  /** (AGGREGATES, 1) / (AGGREGATES, 2): the writers of silver.trip_groups / of gold, one at a time. */
  AGGREGATES: 1953067374,
});

/** The second key of the AGGREGATES class: which aggregate a writer holds. */
export const AGGREGATE_KEY = Object.freeze({ groups: 1, gold: 2 });
