//! Placeholder.
#![allow(missing_docs)]
pub trait LrScheduler {}
pub struct StepLR;
pub struct CosineAnnealingLR;
