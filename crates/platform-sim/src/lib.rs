//! platform-sim
