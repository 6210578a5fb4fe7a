//! Host-side COM objects handed to the plugin: the host application context, the component
//! handler, parameter changes for `process()`, and an in-memory stream for state.
//!
//! Everything the plugin may call from its audio thread ([`ParameterChanges`],
//! [`ParamValueQueue`]) is allocation-free and lock-free: nice-plug's debug builds abort on an
//! allocation inside `process()`, wherever it happens.

use std::ffi::c_void;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use vst3::Steinberg::IBStream_::IStreamSeekMode_::{kIBSeekCur, kIBSeekEnd, kIBSeekSet};
use vst3::Steinberg::Vst::{
    IComponentHandler, IComponentHandlerTrait, IHostApplication, IHostApplicationTrait,
    IParamValueQueue, IParamValueQueueTrait, IParameterChanges, IParameterChangesTrait, ParamID,
    ParamValue, String128,
};
use vst3::Steinberg::{
    int32, int64, kInvalidArgument, kNoInterface, kResultFalse, kResultOk, tresult, IBStream,
    IBStreamTrait, TUID,
};
use vst3::{Class, ComWrapper};

/// Copies `text` into a UTF-16 `String128`, NUL-terminated and truncated to fit.
pub fn write_string128(dest: &mut String128, text: &str) {
    let mut n = 0;
    for (d, c) in dest.iter_mut().zip(text.encode_utf16().take(127)) {
        *d = c;
        n += 1;
    }
    dest[n] = 0;
}

/// A UTF-16 `String128` (NUL-terminated or full) as a String.
pub fn read_string128(src: &String128) -> String {
    let len = src.iter().position(|&c| c == 0).unwrap_or(src.len());
    String::from_utf16_lossy(&src[..len])
}

/// `IHostApplication`: the context passed to `IPluginBase::initialize`.
pub struct HostApplication {
    name: String,
}

impl HostApplication {
    pub fn new(name: &str) -> ComWrapper<Self> {
        ComWrapper::new(HostApplication {
            name: name.to_owned(),
        })
    }
}

impl Class for HostApplication {
    type Interfaces = (IHostApplication,);
}

impl IHostApplicationTrait for HostApplication {
    unsafe fn getName(&self, name: *mut String128) -> tresult {
        if name.is_null() {
            return kInvalidArgument;
        }
        // SAFETY: the caller passes a writable String128 (checked non-null above).
        write_string128(unsafe { &mut *name }, &self.name);
        kResultOk
    }

    unsafe fn createInstance(
        &self,
        _cid: *mut TUID,
        _iid: *mut TUID,
        obj: *mut *mut c_void,
    ) -> tresult {
        // We offer no host-created objects (IMessage, IAttributeList).
        if !obj.is_null() {
            // SAFETY: non-null out pointer supplied by the caller.
            unsafe { *obj = std::ptr::null_mut() };
        }
        kNoInterface
    }
}

/// What the plugin told the host through [`ComponentHandler`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HandlerCall {
    BeginEdit(ParamID),
    PerformEdit(ParamID, ParamValue),
    EndEdit(ParamID),
    Restart(i32),
}

/// `IComponentHandler`: records the plugin's edits and restart requests.
#[derive(Default)]
pub struct ComponentHandler {
    calls: Mutex<Vec<HandlerCall>>,
    restart_flags: AtomicI32,
}

impl ComponentHandler {
    pub fn new() -> ComWrapper<Self> {
        ComWrapper::new(ComponentHandler::default())
    }

    /// Every call so far, oldest first.
    pub fn calls(&self) -> Vec<HandlerCall> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The union of `restartComponent` flags since the last call; clears them.
    pub fn take_restart_flags(&self) -> i32 {
        self.restart_flags.swap(0, Ordering::SeqCst)
    }

    fn record(&self, call: HandlerCall) -> tresult {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(call);
        kResultOk
    }
}

impl Class for ComponentHandler {
    type Interfaces = (IComponentHandler,);
}

impl IComponentHandlerTrait for ComponentHandler {
    unsafe fn beginEdit(&self, id: ParamID) -> tresult {
        self.record(HandlerCall::BeginEdit(id))
    }

    unsafe fn performEdit(&self, id: ParamID, value: ParamValue) -> tresult {
        self.record(HandlerCall::PerformEdit(id, value))
    }

    unsafe fn endEdit(&self, id: ParamID) -> tresult {
        self.record(HandlerCall::EndEdit(id))
    }

    unsafe fn restartComponent(&self, flags: int32) -> tresult {
        self.restart_flags.fetch_or(flags, Ordering::SeqCst);
        self.record(HandlerCall::Restart(flags))
    }
}

/// Points one [`ParamValueQueue`] holds at most.
pub const MAX_POINTS: usize = 16;

/// `IParamValueQueue`: the changes of one parameter within one block, as (sample offset,
/// normalised value) points. Fixed capacity; atomics only, so the plugin may read it on any
/// thread without locks or allocation.
pub struct ParamValueQueue {
    id: AtomicU32,
    len: AtomicUsize,
    offsets: [AtomicI32; MAX_POINTS],
    values: [AtomicU64; MAX_POINTS],
}

impl ParamValueQueue {
    fn new() -> Self {
        ParamValueQueue {
            id: AtomicU32::new(0),
            len: AtomicUsize::new(0),
            offsets: std::array::from_fn(|_| AtomicI32::new(0)),
            values: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    fn reset(&self, id: ParamID) {
        self.id.store(id, Ordering::Relaxed);
        self.len.store(0, Ordering::Relaxed);
    }

    /// Appends a point; returns its index, or None when full.
    fn push(&self, offset: i32, value: f64) -> Option<usize> {
        let i = self.len.load(Ordering::Relaxed);
        if i >= MAX_POINTS {
            return None;
        }
        self.offsets[i].store(offset, Ordering::Relaxed);
        self.values[i].store(value.to_bits(), Ordering::Relaxed);
        self.len.store(i + 1, Ordering::Release);
        Some(i)
    }

    /// The points, for reading what a plugin wrote to an output queue.
    pub fn points(&self) -> Vec<(i32, f64)> {
        let n = self.len.load(Ordering::Acquire);
        (0..n)
            .map(|i| {
                (
                    self.offsets[i].load(Ordering::Relaxed),
                    f64::from_bits(self.values[i].load(Ordering::Relaxed)),
                )
            })
            .collect()
    }
}

impl Class for ParamValueQueue {
    type Interfaces = (IParamValueQueue,);
}

impl IParamValueQueueTrait for ParamValueQueue {
    unsafe fn getParameterId(&self) -> ParamID {
        self.id.load(Ordering::Relaxed)
    }

    unsafe fn getPointCount(&self) -> int32 {
        self.len.load(Ordering::Acquire) as int32
    }

    unsafe fn getPoint(&self, index: int32, offset: *mut int32, value: *mut ParamValue) -> tresult {
        let n = self.len.load(Ordering::Acquire);
        if index < 0 || index as usize >= n || offset.is_null() || value.is_null() {
            return kInvalidArgument;
        }
        let i = index as usize;
        // SAFETY: both out pointers were checked non-null; the caller owns them.
        unsafe {
            *offset = self.offsets[i].load(Ordering::Relaxed);
            *value = f64::from_bits(self.values[i].load(Ordering::Relaxed));
        }
        kResultOk
    }

    unsafe fn addPoint(&self, offset: int32, value: ParamValue, index: *mut int32) -> tresult {
        match self.push(offset, value) {
            Some(i) => {
                if !index.is_null() {
                    // SAFETY: non-null out pointer supplied by the caller.
                    unsafe { *index = i as int32 };
                }
                kResultOk
            }
            None => kResultFalse,
        }
    }
}

/// Queues one [`ParameterChanges`] holds at most.
pub const MAX_QUEUES: usize = 16;

/// `IParameterChanges`: the parameter changes of one `process()` call, one queue per
/// parameter. The queues are allocated up front and reused; the host fills them between
/// blocks with [`ParameterChanges::clear`] and [`ParameterChanges::set`].
pub struct ParameterChanges {
    queues: Vec<ComWrapper<ParamValueQueue>>,
    used: AtomicUsize,
}

impl ParameterChanges {
    pub fn new() -> ComWrapper<Self> {
        ComWrapper::new(ParameterChanges {
            queues: (0..MAX_QUEUES)
                .map(|_| ComWrapper::new(ParamValueQueue::new()))
                .collect(),
            used: AtomicUsize::new(0),
        })
    }

    pub fn clear(&self) {
        self.used.store(0, Ordering::Release);
    }

    /// Adds a point (sample `offset`, normalised `value`) to parameter `id`'s queue.
    pub fn set(&self, id: ParamID, offset: i32, value: f64) -> bool {
        self.queue_for(id)
            .is_some_and(|q| q.push(offset, value).is_some())
    }

    /// The queues in use, as (parameter id, points).
    pub fn snapshot(&self) -> Vec<(ParamID, Vec<(i32, f64)>)> {
        let n = self.used.load(Ordering::Acquire);
        self.queues[..n]
            .iter()
            .map(|q| (q.id.load(Ordering::Relaxed), q.points()))
            .collect()
    }

    /// The queue of `id`, starting a new one if needed; its index.
    fn queue_index(&self, id: ParamID) -> Option<usize> {
        let n = self.used.load(Ordering::Acquire);
        if let Some(i) = self.queues[..n]
            .iter()
            .position(|q| q.id.load(Ordering::Relaxed) == id)
        {
            return Some(i);
        }
        if n >= self.queues.len() {
            return None;
        }
        self.queues[n].reset(id);
        self.used.store(n + 1, Ordering::Release);
        Some(n)
    }

    fn queue_for(&self, id: ParamID) -> Option<&ParamValueQueue> {
        self.queue_index(id).map(|i| &*self.queues[i])
    }

    fn queue_ptr(&self, i: usize) -> *mut IParamValueQueue {
        self.queues[i]
            .as_com_ref::<IParamValueQueue>()
            .expect("ParamValueQueue implements IParamValueQueue")
            .as_ptr()
    }
}

impl Class for ParameterChanges {
    type Interfaces = (IParameterChanges,);
}

impl IParameterChangesTrait for ParameterChanges {
    unsafe fn getParameterCount(&self) -> int32 {
        self.used.load(Ordering::Acquire) as int32
    }

    /// Per the VST3 API the returned queue is owned by this object (no reference is added),
    /// valid until the `process()` call returns.
    unsafe fn getParameterData(&self, index: int32) -> *mut IParamValueQueue {
        let n = self.used.load(Ordering::Acquire);
        if index < 0 || index as usize >= n {
            return std::ptr::null_mut();
        }
        self.queue_ptr(index as usize)
    }

    unsafe fn addParameterData(
        &self,
        id: *const ParamID,
        index: *mut int32,
    ) -> *mut IParamValueQueue {
        if id.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: checked non-null; the caller passes a readable ParamID.
        let id = unsafe { *id };
        match self.queue_index(id) {
            Some(i) => {
                if !index.is_null() {
                    // SAFETY: non-null out pointer supplied by the caller.
                    unsafe { *index = i as int32 };
                }
                self.queue_ptr(i)
            }
            None => std::ptr::null_mut(),
        }
    }
}

/// `IBStream` over a byte vector, for `IComponent::getState` / `setState`.
pub struct MemoryStream {
    inner: Mutex<(Vec<u8>, usize)>,
}

impl MemoryStream {
    pub fn new(bytes: Vec<u8>) -> ComWrapper<Self> {
        ComWrapper::new(MemoryStream {
            inner: Mutex::new((bytes, 0)),
        })
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.lock().0.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<u8>, usize)> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Class for MemoryStream {
    type Interfaces = (IBStream,);
}

impl IBStreamTrait for MemoryStream {
    unsafe fn read(&self, buffer: *mut c_void, num_bytes: int32, read: *mut int32) -> tresult {
        if num_bytes < 0 || (buffer.is_null() && num_bytes > 0) {
            return kInvalidArgument;
        }
        let mut g = self.lock();
        let (data, pos) = &mut *g;
        let n = (num_bytes as usize).min(data.len().saturating_sub(*pos));
        if n > 0 {
            // SAFETY: the caller's buffer holds at least `num_bytes` >= n bytes; the source
            // range is in bounds; the two cannot overlap (ours is a private Vec).
            unsafe { std::ptr::copy_nonoverlapping(data[*pos..].as_ptr(), buffer as *mut u8, n) };
        }
        *pos += n;
        if !read.is_null() {
            // SAFETY: non-null out pointer supplied by the caller.
            unsafe { *read = n as int32 };
        }
        kResultOk
    }

    unsafe fn write(&self, buffer: *mut c_void, num_bytes: int32, written: *mut int32) -> tresult {
        if num_bytes < 0 || (buffer.is_null() && num_bytes > 0) {
            return kInvalidArgument;
        }
        let n = num_bytes as usize;
        let mut g = self.lock();
        let (data, pos) = &mut *g;
        if n > 0 {
            // SAFETY: the caller's buffer holds `num_bytes` readable bytes.
            let src = unsafe { std::slice::from_raw_parts(buffer as *const u8, n) };
            let end = *pos + n;
            if data.len() < end {
                data.resize(end, 0);
            }
            data[*pos..end].copy_from_slice(src);
            *pos = end;
        }
        if !written.is_null() {
            // SAFETY: non-null out pointer supplied by the caller.
            unsafe { *written = n as int32 };
        }
        kResultOk
    }

    unsafe fn seek(&self, pos: int64, mode: int32, result: *mut int64) -> tresult {
        let mut g = self.lock();
        let (data, cur) = &mut *g;
        let base = match mode as u32 {
            m if m == kIBSeekSet => 0,
            m if m == kIBSeekCur => *cur as i64,
            m if m == kIBSeekEnd => data.len() as i64,
            _ => return kInvalidArgument,
        };
        let Some(new) = base.checked_add(pos).filter(|p| *p >= 0) else {
            return kInvalidArgument;
        };
        *cur = new as usize;
        if !result.is_null() {
            // SAFETY: non-null out pointer supplied by the caller.
            unsafe { *result = new };
        }
        kResultOk
    }

    unsafe fn tell(&self, pos: *mut int64) -> tresult {
        if pos.is_null() {
            return kInvalidArgument;
        }
        // SAFETY: checked non-null; the caller owns it.
        unsafe { *pos = self.lock().1 as int64 };
        kResultOk
    }
}
