//! X-Ray trace header propagation.
