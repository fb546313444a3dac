//! Black-box tests live in the test targets of this package; see api.rs.
