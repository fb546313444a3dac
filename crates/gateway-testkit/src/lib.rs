//! Test support: a gateway spawned on port 0 over a fresh SQLite file or PostgreSQL schema.
