import { sql, type Kysely, type Migration } from "kysely";

/** PostgreSQL schema versions; Kysely's migrator holds an advisory lock, so replicas starting together migrate once. */
export const postgresMigrations: Record<string, Migration> = {
  "0001_users": {
    async up(db: Kysely<unknown>) {
      await sql`
        create table users (
          id bigserial primary key,
          username text not null,
          email text not null,
          password_hash text not null,
          full_name text not null default '',
          avatar_url text not null default '',
          status text not null default 'active',
          roles text not null default '[]',
          metadata text not null default '{}',
          created_at bigint not null,
          updated_at bigint not null
        )`.execute(db);
      await sql`create unique index users_username_uq on users (lower(username))`.execute(db);
      await sql`create unique index users_email_uq on users (lower(email))`.execute(db);
      await sql`create index users_status_idx on users (status)`.execute(db);
    },
  },
  "0002_chat_messages": {
    async up(db: Kysely<unknown>) {
      await sql`
        create table chat_messages (
          id bigserial primary key,
          from_user_id bigint not null,
          to_user_id bigint not null default 0,
          content text not null,
          kind text not null default 'text',
          created_at bigint not null
        )`.execute(db);
      await sql`create index chat_messages_to_idx on chat_messages (to_user_id, id)`.execute(db);
      await sql`create index chat_messages_from_idx on chat_messages (from_user_id, id)`.execute(db);
    },
  },
};
