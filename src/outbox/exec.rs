//! The real executor: turns a job into the provider call it stands for.
