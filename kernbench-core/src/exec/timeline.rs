//! Timelines in the Chrome trace-event format (opens in Perfetto and
//! chrome://tracing): one process per PE, one thread per engine lane,
//! one complete event per op-log record.
//!
//! The document serializes straight from the records: a timeline of
//! millions of records is written without building a JSON tree of it
//! (which would take kilobytes per record).

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{json, Value};

use crate::exec::oplog::{Lane, OpRecord};
use crate::fabric::units::ps_to_ns;

/// The trace-event document of some records, serialized on demand.
pub struct ChromeTrace<'a, F: Fn(u32) -> String> {
    records: &'a [OpRecord],
    pe_name: F,
}

impl<'a, F: Fn(u32) -> String> ChromeTrace<'a, F> {
    /// The document for `records`; `pe_name` names each PE's process
    /// (e.g. `sip0.cube(0,0).pe3`).
    pub fn new(records: &'a [OpRecord], pe_name: F) -> Self {
        ChromeTrace { records, pe_name }
    }
}

/// The list of trace events: metadata naming processes and threads, then
/// one complete event per record.
struct Events<'b, 'a, F: Fn(u32) -> String>(&'b ChromeTrace<'a, F>);

impl<F: Fn(u32) -> String> Serialize for ChromeTrace<'_, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("traceEvents", &Events(self))?;
        m.serialize_entry("displayTimeUnit", "ns")?;
        m.end()
    }
}

impl<F: Fn(u32) -> String> Serialize for Events<'_, '_, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut pes: Vec<u32> = t.records.iter().map(|r| r.pe).collect();
        pes.sort_unstable();
        pes.dedup();
        let mut seq = s.serialize_seq(None)?;
        for &pe in &pes {
            seq.serialize_element(&json!({
                "name": "process_name", "ph": "M", "pid": pe,
                "args": {"name": (t.pe_name)(pe)}
            }))?;
            for lane in Lane::ALL {
                seq.serialize_element(&json!({
                    "name": "thread_name", "ph": "M", "pid": pe, "tid": lane as u32,
                    "args": {"name": lane.name()}
                }))?;
            }
        }
        for r in t.records {
            seq.serialize_element(&Complete(r))?;
        }
        seq.end()
    }
}

/// One record as a complete ("X") event; timestamps are microseconds.
struct Complete<'a>(&'a OpRecord);

impl Serialize for Complete<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(Some(8))?;
        m.serialize_entry("name", r.name)?;
        m.serialize_entry("cat", r.lane.name())?;
        m.serialize_entry("ph", "X")?;
        m.serialize_entry("ts", &(ps_to_ns(r.start) / 1000.0))?;
        m.serialize_entry("dur", &(ps_to_ns(r.end - r.start) / 1000.0))?;
        m.serialize_entry("pid", &r.pe)?;
        m.serialize_entry("tid", &(r.lane as u32))?;
        m.serialize_entry("args", &Args(r))?;
        m.end()
    }
}

struct Args<'a>(&'a OpRecord);

impl Serialize for Args<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("bytes", &self.0.bytes)?;
        m.serialize_entry("cmd", &self.0.cmd)?;
        m.serialize_entry("macs", &self.0.macs)?;
        m.end()
    }
}

/// The trace-event JSON document for `records` as a JSON value (small
/// runs; write large ones with [`ChromeTrace`] and `serde_json::to_writer`).
pub fn chrome_trace(records: &[OpRecord], pe_name: impl Fn(u32) -> String) -> Value {
    serde_json::to_value(ChromeTrace::new(records, pe_name)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::oplog::RecordKind;

    #[test]
    fn the_written_document_is_the_trace_event_format() {
        let r = OpRecord {
            pe: 3,
            lane: Lane::Dma,
            kind: RecordKind::TileStage,
            name: "dma_read",
            cmd: 7,
            start: 2_000_000,
            end: 2_500_000,
            bytes: 4096,
            macs: 0,
        };
        let records = [r];
        let doc = ChromeTrace::new(&records, |pe| format!("pe{pe}"));
        let parsed: Value = serde_json::from_slice(&serde_json::to_vec(&doc).unwrap()).unwrap();
        let events = parsed["traceEvents"].as_array().unwrap();
        // A process name, a thread name per lane, then the record.
        assert_eq!(events.len(), 1 + Lane::ALL.len() + 1);
        assert_eq!(events[0]["args"]["name"], "pe3");
        // 2 us for 0.5 us (trace-event times are microseconds).
        assert_eq!(
            events.last().unwrap(),
            &json!({"name": "dma_read", "cat": Lane::Dma.name(), "ph": "X", "ts": 2.0,
                "dur": 0.5, "pid": 3, "tid": Lane::Dma as u32,
                "args": {"cmd": 7, "bytes": 4096, "macs": 0}})
        );
        assert_eq!(parsed["displayTimeUnit"], "ns");
    }
}
