//! Movable Ink errors. The gateway makes no call to Movable Ink (its collector has no
//! read-only endpoint), so there is no answer to map; the write path will map the collector's
//! answers (a documented 404 "Behavioral endpoint key not found" for an unknown key).
