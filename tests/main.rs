//! The black-box tests of the built gateway, one binary with a module per area (the whole
//! gateway is linked once): `api` (every endpoint, on SQLite and PostgreSQL), `storage`
//! (migrations up and down, concurrency), `outage` (PostgreSQL stopped and started under a
//! running gateway), `statuses`, `secrets`, `guard`, `uploads`, `metrics`, `client`, `rows`,
//! and each
//! provider family against its local peers (`object_store`, `warehouse`, `engagement`, `cdp`,
//! `crm_commerce`), every kind through `conformance`. nextest runs each test in its own
//! process, so a test that stops PostgreSQL or sets a variable touches no other.

mod api;
mod cdp;
mod client;
mod conformance;
mod crm_commerce;
mod engagement;
mod guard;
mod metrics;
mod object_store;
mod outage;
mod rows;
mod secrets;
mod statuses;
mod storage;
mod uploads;
mod validations;
mod warehouse;
