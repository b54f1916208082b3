import { sql, type Kysely, type Migration } from "kysely";

/** SQLite schema versions, applied in name order and recorded by Kysely's migrator. */
export const sqliteMigrations: Record<string, Migration> = {
  "0001_users": {
    async up(db: Kysely<unknown>) {
      await sql`
        create table users (
          id integer primary key autoincrement,
          username text not null,
          email text not null,
          password_hash text not null,
          full_name text not null default '',
          avatar_url text not null default '',
          status text not null default 'active',
          roles text not null default '[]',
          metadata text not null default '{}',
          created_at integer not null,
          updated_at integer not null
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
          id integer primary key autoincrement,
          from_user_id integer not null,
          to_user_id integer not null default 0,
          content text not null,
          kind text not null default 'text',
          created_at integer not null
        )`.execute(db);
      await sql`create index chat_messages_to_idx on chat_messages (to_user_id, id)`.execute(db);
      await sql`create index chat_messages_from_idx on chat_messages (from_user_id, id)`.execute(db);
    },
  },
};
