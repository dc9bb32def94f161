//! Timelines in the Chrome trace-event format (opens in Perfetto and
//! chrome://tracing): one process per PE, one thread per engine lane,
//! one complete event per op-log record.

use serde_json::{json, Value};

use crate::exec::oplog::{Lane, OpRecord};
use crate::fabric::units::ps_to_ns;

/// The trace-event JSON document for `records`; `pe_name` names each PE's
/// process (e.g. `sip0.cube(0,0).pe3`).
pub fn chrome_trace(records: &[OpRecord], pe_name: impl Fn(u32) -> String) -> Value {
    let mut pes: Vec<u32> = records.iter().map(|r| r.pe).collect();
    pes.sort_unstable();
    pes.dedup();
    let mut events = Vec::with_capacity(records.len() + pes.len() * (Lane::ALL.len() + 1));
    for &pe in &pes {
        events.push(json!({
            "name": "process_name", "ph": "M", "pid": pe,
            "args": {"name": pe_name(pe)}
        }));
        for lane in Lane::ALL {
            events.push(json!({
                "name": "thread_name", "ph": "M", "pid": pe, "tid": lane as u32,
                "args": {"name": lane.name()}
            }));
        }
    }
    for r in records {
        // Trace-event timestamps are microseconds.
        events.push(json!({
            "name": r.name,
            "cat": r.lane.name(),
            "ph": "X",
            "ts": ps_to_ns(r.start) / 1000.0,
            "dur": ps_to_ns(r.end - r.start) / 1000.0,
            "pid": r.pe,
            "tid": r.lane as u32,
            "args": {"cmd": r.cmd, "bytes": r.bytes, "macs": r.macs},
        }));
    }
    json!({"traceEvents": events, "displayTimeUnit": "ns"})
}
