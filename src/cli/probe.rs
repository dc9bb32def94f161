//! `kernbench probe`: latency and bandwidth of predefined traffic.
