//! The tracing context of one program instance.
//!
//! `#[kernel]` turns a kernel body into a function of a hidden
//! [`KernelCx`]; each `tl::` call records into it. Tracing runs the body
//! once, as ordinary Rust, for one program instance: loops and branches
//! over integers unroll into a flat command stream.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe, Location};
use std::rc::Rc;
use std::sync::Once;

use super::alloc;
use super::cmd::{BufId, Buffer, Command, Space};
use super::error::{OpError, SourceLoc, TraceError, TraceErrorKind};
use super::program::ProgramInfo;
use super::stream::{command_text, CommandStream};
use crate::support::panic_message;

/// Limits that apply while tracing and allocating a stream. The host
/// runtime derives them from the machine (`kernbench_core::host::trace_config`);
/// the tracer only applies them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceConfig {
    /// TCM kernel scratch per PE, bytes.
    pub scratch_bytes: u64,
    /// SRAM window of one program (the cube's SRAM split among its PEs), bytes.
    pub sram_bytes: u64,
    /// Longest stream accepted; guards against runaway loops.
    pub max_commands: usize,
    /// IPCQ messages in flight per ordered pair of ranks (`tl::queue_depth`).
    pub ipcq_depth: usize,
}

impl Default for TraceConfig {
    /// 1 MiB scratch (the design default), 4 MiB SRAM window, 4M commands,
    /// IPCQ depth 4.
    fn default() -> Self {
        TraceConfig {
            scratch_bytes: 1 << 20,
            sram_bytes: 4 << 20,
            max_commands: 4 << 20,
            ipcq_depth: 4,
        }
    }
}

pub(crate) type Shared = Rc<RefCell<State>>;

/// Recording state of one trace.
pub(crate) struct State {
    pub(crate) kernel: &'static str,
    pub(crate) program: ProgramInfo,
    pub(crate) ipcq_depth: usize,
    max_commands: usize,
    pub(crate) commands: Vec<Command>,
    /// Per command, the `tl::` call that recorded it.
    sources: Vec<&'static Location<'static>>,
    pub(crate) buffers: Vec<Buffer>,
    error: Option<TraceError>,
}

impl State {
    pub(crate) fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Records the first error and stops the kernel body there: a body
    /// that loops a trillion times past its command cap must not keep
    /// running. The stop unwinds to [`run_body`] without the panic hook
    /// (nothing is printed); outside a body, later operations are no-ops.
    #[track_caller]
    fn fail_kind(&mut self, kind: TraceErrorKind) {
        if self.error.is_none() {
            self.error = Some(TraceError {
                kernel: self.kernel.to_string(),
                program: self.program,
                at: Some(Box::new(Location::caller().into())),
                kind: Box::new(kind),
            });
        }
        if TRACING.with(Cell::get) {
            panic::resume_unwind(Box::new(Stop));
        }
    }

    /// Records the first error, at the kernel source line of the `tl::`
    /// call (every operation down to here is `#[track_caller]`), and stops
    /// the body (see [`Self::fail_kind`]).
    #[track_caller]
    pub(crate) fn fail(&mut self, op: &'static str, error: OpError) {
        let index = self.commands.len();
        self.fail_kind(TraceErrorKind::Op { op, index, error });
    }

    pub(crate) fn new_buf(
        &mut self,
        space: Space,
        shape: [usize; 2],
        dtype: super::DType,
    ) -> BufId {
        let id = BufId(u32::try_from(self.buffers.len()).unwrap_or(u32::MAX));
        self.buffers.push(Buffer {
            id,
            space,
            shape,
            dtype,
            offset: None,
        });
        id
    }

    /// Appends a command, remembering the `tl::` call it came from.
    #[track_caller]
    pub(crate) fn push(&mut self, cmd: Command) {
        if self.failed() {
            return;
        }
        if self.commands.len() >= self.max_commands {
            self.fail_kind(TraceErrorKind::TooLong(self.max_commands));
            return;
        }
        self.commands.push(cmd);
        self.sources.push(Location::caller());
    }
}

/// The tracing context of one program instance.
///
/// `#[kernel]` passes it implicitly as the first argument of every `tl::`
/// call in the kernel body; only the generated tracing code can create
/// one, so `tl::` operations cannot run outside a kernel. Plain helper
/// functions take a `&KernelCx` and pass it on explicitly
/// (`tl::load(cx, block)`); a kernel body obtains its own with
/// `tl::context()`.
pub struct KernelCx {
    pub(crate) st: Shared,
}

impl KernelCx {
    pub(crate) fn shared(&self) -> &Shared {
        &self.st
    }
}

impl fmt::Debug for KernelCx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.st.borrow();
        write!(
            f,
            "KernelCx({}, {}, {} commands)",
            st.kernel,
            st.program,
            st.commands.len()
        )
    }
}

/// The unwind payload that stops a kernel body at its first error.
struct Stop;

thread_local! {
    /// Set while this thread runs a kernel body: its panics are errors to
    /// report, not crashes to print.
    static TRACING: Cell<bool> = const { Cell::new(false) };
    /// Where the last panic of a kernel body happened.
    static PANIC_AT: RefCell<Option<SourceLoc>> = const { RefCell::new(None) };
}

/// Installs, once per process, a panic hook that stays quiet for panics in
/// kernel bodies (they become trace errors) and hands every other panic to
/// the hook that was there before.
fn quiet_kernel_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if TRACING.with(Cell::get) {
                PANIC_AT.with(|p| *p.borrow_mut() = info.location().map(SourceLoc::from));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `body` with kernel panics caught quietly; a panic's message and
/// source location come back as the error.
fn run_body(body: impl FnOnce()) -> Result<(), (String, Option<SourceLoc>)> {
    quiet_kernel_panics();
    let was = TRACING.with(|t| t.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(body));
    TRACING.with(|t| t.set(was));
    result.map_err(|payload| {
        let at = PANIC_AT.with(|p| p.borrow_mut().take());
        (panic_message(payload.as_ref()), at)
    })
}

/// Runs `body` as program `program` of kernel `kernel` and returns its
/// allocated command stream. Called by the code `#[kernel]` generates.
#[doc(hidden)]
pub fn __trace(
    kernel: &'static str,
    program: &ProgramInfo,
    cfg: &TraceConfig,
    body: impl FnOnce(&KernelCx),
) -> Result<CommandStream, TraceError> {
    let err = |kind, at| TraceError {
        kernel: kernel.to_string(),
        program: *program,
        at,
        kind: Box::new(kind),
    };
    program
        .check()
        .map_err(|m| err(TraceErrorKind::Program(m), None))?;
    let cx = KernelCx {
        st: Rc::new(RefCell::new(State {
            kernel,
            program: *program,
            ipcq_depth: cfg.ipcq_depth,
            max_commands: cfg.max_commands,
            commands: Vec::new(),
            sources: Vec::new(),
            buffers: Vec::new(),
            error: None,
        })),
    };
    let ran = run_body(|| body(&cx));
    let mut st = cx.st.borrow_mut();
    // A recorded error comes first: it is what stopped the body.
    if let Some(e) = st.error.take() {
        return Err(e);
    }
    if let Err((message, at)) = ran {
        return Err(err(TraceErrorKind::Panic(message), at.map(Box::new)));
    }
    let commands = std::mem::take(&mut st.commands);
    let sources = std::mem::take(&mut st.sources);
    let mut buffers = std::mem::take(&mut st.buffers);
    drop(st);
    let mut peaks = [0u64; 2];
    for (slot, (space, capacity)) in [
        (Space::Tcm, cfg.scratch_bytes),
        (Space::Sram, cfg.sram_bytes),
    ]
    .into_iter()
    .enumerate()
    {
        peaks[slot] = alloc::assign(&commands, &mut buffers, space, capacity).map_err(|o| {
            let kind = TraceErrorKind::Overflow {
                space,
                index: o.index,
                command: commands
                    .get(o.index)
                    .map(|c| command_text(&buffers, c))
                    .unwrap_or_default(),
                need: o.need,
                live: o.live,
                capacity,
            };
            err(
                kind,
                sources.get(o.index).map(|l| Box::new(SourceLoc::from(*l))),
            )
        })?;
    }
    Ok(CommandStream {
        kernel: kernel.to_string(),
        program: *program,
        commands,
        buffers,
        sources,
        tcm_peak: peaks[0],
        sram_peak: peaks[1],
    })
}
