//! Customer data platforms: where customers' users and events flow, and where the platform's
//! recommendations can be sent as traits and events. Neither offers a read API for the data
//! itself; each proves what can be proven read-only and says what cannot. One module per
//! provider in the engagement family's shape (config, client, connector, error).

mod mparticle;
mod names;
mod segment;

pub use mparticle::MParticleConnector;
pub use segment::SegmentConnector;
