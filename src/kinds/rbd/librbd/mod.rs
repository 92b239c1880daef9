//! A small safe binding of librados and librbd (Ceph's C API), the subset
//! an `rbd` pool uses. The libraries are loaded when the first rbd pool
//! starts (`dlopen` of `librados.so.2` and `librbd.so.1`), not linked: poolfs
//! builds and runs on hosts without Ceph, and a pool started there fails
//! with a sentence saying which package to install.
//!
//! The declarations follow `rados/librados.h` and `rbd/librbd.h` of Ceph 16
//! (librbd 1.16); every function used exists since Ceph 15.
//!
//! Invariants:
//! - a `Cluster` (one `rados_t` and one I/O context) lives as long as any
//!   `Image` opened through it (each holds an `Arc` of it);
//! - librados and librbd handles are thread-safe; `Image` is shared by
//!   every open of one image in this process;
//! - an asynchronous operation owns its buffer and its completion callback
//!   until librbd calls back, exactly once (`trampoline`);
//! - `rbd_close` never runs on librbd's own callback thread (it would wait
//!   for that thread): an image dropped there is closed on a thread of its own;
//! - a call that gets no answer within the pool's timeout marks the cluster
//!   down; while it is, the calls a request thread makes for names and
//!   metadata (`gate`) fail at once, and one probe thread asks an OSD every
//!   second until one answers.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use libloading::Library;
use nix::errno::Errno;

use crate::error::{Error, Result};

mod header;
mod image;
mod layers;

pub use header::Stat;
pub use image::Image;
pub use layers::{Linked, held_elsewhere};

type RadosT = *mut c_void;
type IoctxT = *mut c_void;
type ImageT = *mut c_void;
type CompletionT = *mut c_void;
type ReadOpT = *mut c_void;
type Callback = unsafe extern "C" fn(CompletionT, *mut c_void);
type DiffCallback = unsafe extern "C" fn(u64, usize, c_int, *mut c_void) -> c_int;

#[repr(C)]
struct ClusterStatT {
    kb: u64,
    kb_used: u64,
    kb_avail: u64,
    num_objects: u64,
}

/// `struct rados_pool_stat_t`: `num_bytes`, then 15 more `uint64_t`
/// counters poolfs does not read.
#[repr(C)]
#[derive(Default)]
struct PoolStatT {
    num_bytes: u64,
    _rest: [u64; 15],
}

#[repr(C)]
struct ImageSpecT {
    id: *mut c_char,
    name: *mut c_char,
}

/// `rbd_linked_image_spec_t`: an image a clone relation names.
#[repr(C)]
struct LinkedImageSpecT {
    pool_id: i64,
    pool_name: *mut c_char,
    pool_namespace: *mut c_char,
    image_id: *mut c_char,
    image_name: *mut c_char,
    trash: bool,
}

/// `rbd_snap_spec_t`: a snapshot a clone's parent link names.
#[repr(C)]
struct SnapSpecT {
    id: u64,
    namespace_type: c_int,
    name: *mut c_char,
}

/// `rbd_snap_info_t`: one snapshot of an image.
#[repr(C)]
struct SnapInfoT {
    id: u64,
    size: u64,
    name: *const c_char,
}

/// The functions used, resolved once.
struct Api {
    rados_create2: unsafe extern "C" fn(*mut RadosT, *const c_char, *const c_char, u64) -> c_int,
    rados_conf_read_file: unsafe extern "C" fn(RadosT, *const c_char) -> c_int,
    rados_conf_set: unsafe extern "C" fn(RadosT, *const c_char, *const c_char) -> c_int,
    rados_connect: unsafe extern "C" fn(RadosT) -> c_int,
    rados_shutdown: unsafe extern "C" fn(RadosT),
    rados_cluster_stat: unsafe extern "C" fn(RadosT, *mut ClusterStatT) -> c_int,
    rados_getaddrs: unsafe extern "C" fn(RadosT, *mut *mut c_char) -> c_int,
    rados_buffer_free: unsafe extern "C" fn(*mut c_char),
    rados_blocklist_add: unsafe extern "C" fn(RadosT, *mut c_char, u32) -> c_int,
    rados_ioctx_create: unsafe extern "C" fn(RadosT, *const c_char, *mut IoctxT) -> c_int,
    rados_ioctx_destroy: unsafe extern "C" fn(IoctxT),
    rados_ioctx_set_namespace: unsafe extern "C" fn(IoctxT, *const c_char),
    rados_ioctx_pool_stat: unsafe extern "C" fn(IoctxT, *mut PoolStatT) -> c_int,
    rados_create_read_op: unsafe extern "C" fn() -> ReadOpT,
    rados_release_read_op: unsafe extern "C" fn(ReadOpT),
    #[allow(clippy::type_complexity)]
    rados_read_op_exec: unsafe extern "C" fn(
        ReadOpT,
        *const c_char,
        *const c_char,
        *const c_char,
        usize,
        *mut *mut c_char,
        *mut usize,
        *mut c_int,
    ),
    rados_read_op_set_flags: unsafe extern "C" fn(ReadOpT, c_int),
    rados_read_op_operate: unsafe extern "C" fn(ReadOpT, IoctxT, *const c_char, c_int) -> c_int,
    rados_read: unsafe extern "C" fn(IoctxT, *const c_char, *mut c_char, usize, u64) -> c_int,
    rbd_list2: unsafe extern "C" fn(IoctxT, *mut ImageSpecT, *mut usize) -> c_int,
    rbd_image_spec_list_cleanup: unsafe extern "C" fn(*mut ImageSpecT, usize),
    rbd_create2: unsafe extern "C" fn(IoctxT, *const c_char, u64, u64, *mut c_int) -> c_int,
    rbd_remove: unsafe extern "C" fn(IoctxT, *const c_char) -> c_int,
    rbd_rename: unsafe extern "C" fn(IoctxT, *const c_char, *const c_char) -> c_int,
    rbd_open: unsafe extern "C" fn(IoctxT, *const c_char, *mut ImageT, *const c_char) -> c_int,
    rbd_open_by_id:
        unsafe extern "C" fn(IoctxT, *const c_char, *mut ImageT, *const c_char) -> c_int,
    rbd_open_read_only:
        unsafe extern "C" fn(IoctxT, *const c_char, *mut ImageT, *const c_char) -> c_int,
    rbd_open_by_id_read_only:
        unsafe extern "C" fn(IoctxT, *const c_char, *mut ImageT, *const c_char) -> c_int,
    rbd_close: unsafe extern "C" fn(ImageT) -> c_int,
    rbd_get_id: unsafe extern "C" fn(ImageT, *mut c_char, usize) -> c_int,
    rbd_get_size: unsafe extern "C" fn(ImageT, *mut u64) -> c_int,
    rbd_resize: unsafe extern "C" fn(ImageT, u64) -> c_int,
    rbd_get_modify_timestamp: unsafe extern "C" fn(ImageT, *mut libc::timespec) -> c_int,
    rbd_get_create_timestamp: unsafe extern "C" fn(ImageT, *mut libc::timespec) -> c_int,
    rbd_metadata_get: unsafe extern "C" fn(ImageT, *const c_char, *mut c_char, *mut usize) -> c_int,
    rbd_metadata_set: unsafe extern "C" fn(ImageT, *const c_char, *const c_char) -> c_int,
    rbd_read: unsafe extern "C" fn(ImageT, u64, usize, *mut c_char) -> isize,
    rbd_write: unsafe extern "C" fn(ImageT, u64, usize, *const c_char) -> isize,
    rbd_write_zeroes: unsafe extern "C" fn(ImageT, u64, usize, c_int, c_int) -> isize,
    rbd_flush: unsafe extern "C" fn(ImageT) -> c_int,
    rbd_diff_iterate2: unsafe extern "C" fn(
        ImageT,
        *const c_char,
        u64,
        u64,
        u8,
        u8,
        DiffCallback,
        *mut c_void,
    ) -> c_int,
    rbd_lock_get_owners:
        unsafe extern "C" fn(ImageT, *mut c_int, *mut *mut c_char, *mut usize) -> c_int,
    rbd_lock_get_owners_cleanup: unsafe extern "C" fn(*mut *mut c_char, usize),
    rbd_lock_break: unsafe extern "C" fn(ImageT, c_int, *const c_char) -> c_int,
    rbd_snap_create: unsafe extern "C" fn(ImageT, *const c_char) -> c_int,
    rbd_snap_protect: unsafe extern "C" fn(ImageT, *const c_char) -> c_int,
    rbd_snap_unprotect: unsafe extern "C" fn(ImageT, *const c_char) -> c_int,
    rbd_snap_remove: unsafe extern "C" fn(ImageT, *const c_char) -> c_int,
    rbd_snap_list: unsafe extern "C" fn(ImageT, *mut SnapInfoT, *mut c_int) -> c_int,
    rbd_snap_list_end: unsafe extern "C" fn(*mut SnapInfoT),
    rbd_clone: unsafe extern "C" fn(
        IoctxT,
        *const c_char,
        *const c_char,
        IoctxT,
        *const c_char,
        u64,
        *mut c_int,
    ) -> c_int,
    rbd_list_children3: unsafe extern "C" fn(ImageT, *mut LinkedImageSpecT, *mut usize) -> c_int,
    rbd_linked_image_spec_list_cleanup: unsafe extern "C" fn(*mut LinkedImageSpecT, usize),
    rbd_get_parent: unsafe extern "C" fn(ImageT, *mut LinkedImageSpecT, *mut SnapSpecT) -> c_int,
    rbd_linked_image_spec_cleanup: unsafe extern "C" fn(*mut LinkedImageSpecT),
    rbd_snap_spec_cleanup: unsafe extern "C" fn(*mut SnapSpecT),
    rbd_lock_acquire: unsafe extern "C" fn(ImageT, c_int) -> c_int,
    rbd_lock_release: unsafe extern "C" fn(ImageT) -> c_int,
    rbd_aio_create_completion:
        unsafe extern "C" fn(*mut c_void, Callback, *mut CompletionT) -> c_int,
    rbd_aio_get_return_value: unsafe extern "C" fn(CompletionT) -> isize,
    rbd_aio_release: unsafe extern "C" fn(CompletionT),
    rbd_aio_read: unsafe extern "C" fn(ImageT, u64, usize, *mut c_char, CompletionT) -> c_int,
    rbd_aio_write: unsafe extern "C" fn(ImageT, u64, usize, *const c_char, CompletionT) -> c_int,
    // Kept so the functions above stay mapped.
    _rados: Library,
    _rbd: Library,
}

static API: OnceLock<std::result::Result<Api, String>> = OnceLock::new();

/// Loads librados and librbd once; the error says what to install.
fn api() -> Result<&'static Api> {
    API.get_or_init(load)
        .as_ref()
        .map_err(|why| Error::Unsupported(why.clone()))
}

fn load() -> std::result::Result<Api, String> {
    let open = |name: &str| {
        // SAFETY: loading a system library runs its constructors; librados
        // and librbd have no requirement on the loading thread.
        unsafe { Library::new(name) }.map_err(|e| {
            format!("rbd pools need Ceph's client libraries ({name}: {e}); install librbd1 (apt-get install librbd1)")
        })
    };
    let rados = open("librados.so.2")?;
    let rbd = open("librbd.so.1")?;
    macro_rules! sym {
        ($lib:expr, $name:ident) => {
            // SAFETY: the type of each field is the C declaration of the
            // symbol of the same name (see the module's note); the library
            // stays loaded as long as `Api`, which holds it.
            *unsafe { $lib.get(concat!(stringify!($name), "\0").as_bytes()) }
                .map_err(|e| format!("{} lacks {}: {e}", stringify!($lib), stringify!($name)))?
        };
    }
    Ok(Api {
        rados_create2: sym!(rados, rados_create2),
        rados_conf_read_file: sym!(rados, rados_conf_read_file),
        rados_conf_set: sym!(rados, rados_conf_set),
        rados_connect: sym!(rados, rados_connect),
        rados_shutdown: sym!(rados, rados_shutdown),
        rados_cluster_stat: sym!(rados, rados_cluster_stat),
        rados_getaddrs: sym!(rados, rados_getaddrs),
        rados_buffer_free: sym!(rados, rados_buffer_free),
        rados_blocklist_add: sym!(rados, rados_blocklist_add),
        rados_ioctx_create: sym!(rados, rados_ioctx_create),
        rados_ioctx_destroy: sym!(rados, rados_ioctx_destroy),
        rados_ioctx_set_namespace: sym!(rados, rados_ioctx_set_namespace),
        rados_ioctx_pool_stat: sym!(rados, rados_ioctx_pool_stat),
        rados_create_read_op: sym!(rados, rados_create_read_op),
        rados_release_read_op: sym!(rados, rados_release_read_op),
        rados_read_op_exec: sym!(rados, rados_read_op_exec),
        rados_read_op_set_flags: sym!(rados, rados_read_op_set_flags),
        rados_read_op_operate: sym!(rados, rados_read_op_operate),
        rados_read: sym!(rados, rados_read),
        rbd_list2: sym!(rbd, rbd_list2),
        rbd_image_spec_list_cleanup: sym!(rbd, rbd_image_spec_list_cleanup),
        rbd_create2: sym!(rbd, rbd_create2),
        rbd_remove: sym!(rbd, rbd_remove),
        rbd_rename: sym!(rbd, rbd_rename),
        rbd_open: sym!(rbd, rbd_open),
        rbd_open_by_id: sym!(rbd, rbd_open_by_id),
        rbd_open_read_only: sym!(rbd, rbd_open_read_only),
        rbd_open_by_id_read_only: sym!(rbd, rbd_open_by_id_read_only),
        rbd_close: sym!(rbd, rbd_close),
        rbd_get_id: sym!(rbd, rbd_get_id),
        rbd_get_size: sym!(rbd, rbd_get_size),
        rbd_resize: sym!(rbd, rbd_resize),
        rbd_get_modify_timestamp: sym!(rbd, rbd_get_modify_timestamp),
        rbd_get_create_timestamp: sym!(rbd, rbd_get_create_timestamp),
        rbd_metadata_get: sym!(rbd, rbd_metadata_get),
        rbd_metadata_set: sym!(rbd, rbd_metadata_set),
        rbd_read: sym!(rbd, rbd_read),
        rbd_write: sym!(rbd, rbd_write),
        rbd_write_zeroes: sym!(rbd, rbd_write_zeroes),
        rbd_flush: sym!(rbd, rbd_flush),
        rbd_diff_iterate2: sym!(rbd, rbd_diff_iterate2),
        rbd_lock_get_owners: sym!(rbd, rbd_lock_get_owners),
        rbd_lock_get_owners_cleanup: sym!(rbd, rbd_lock_get_owners_cleanup),
        rbd_lock_break: sym!(rbd, rbd_lock_break),
        rbd_snap_create: sym!(rbd, rbd_snap_create),
        rbd_snap_protect: sym!(rbd, rbd_snap_protect),
        rbd_snap_unprotect: sym!(rbd, rbd_snap_unprotect),
        rbd_snap_remove: sym!(rbd, rbd_snap_remove),
        rbd_snap_list: sym!(rbd, rbd_snap_list),
        rbd_snap_list_end: sym!(rbd, rbd_snap_list_end),
        rbd_clone: sym!(rbd, rbd_clone),
        rbd_list_children3: sym!(rbd, rbd_list_children3),
        rbd_linked_image_spec_list_cleanup: sym!(rbd, rbd_linked_image_spec_list_cleanup),
        rbd_get_parent: sym!(rbd, rbd_get_parent),
        rbd_linked_image_spec_cleanup: sym!(rbd, rbd_linked_image_spec_cleanup),
        rbd_snap_spec_cleanup: sym!(rbd, rbd_snap_spec_cleanup),
        rbd_lock_acquire: sym!(rbd, rbd_lock_acquire),
        rbd_lock_release: sym!(rbd, rbd_lock_release),
        rbd_aio_create_completion: sym!(rbd, rbd_aio_create_completion),
        rbd_aio_get_return_value: sym!(rbd, rbd_aio_get_return_value),
        rbd_aio_release: sym!(rbd, rbd_aio_release),
        rbd_aio_read: sym!(rbd, rbd_aio_read),
        rbd_aio_write: sym!(rbd, rbd_aio_write),
        _rados: rados,
        _rbd: rbd,
    })
}

/// A C return code: negative is `-errno`.
fn check(rc: isize, what: impl FnOnce() -> String) -> Result<usize> {
    if rc == -(libc::ESHUTDOWN as isize) {
        // EBLOCKLISTED: another client broke this one's lock and fenced it.
        let what = what();
        let fenced = "this host was fenced (another host broke its lock on an image)";
        return Err(Error::Sys {
            what: if what.is_empty() {
                fenced.into()
            } else {
                format!("{what}: {fenced}")
            },
            errno: Errno::EIO,
        });
    }
    if rc < 0 {
        Err(Error::Sys {
            what: what(),
            errno: Errno::from_raw(-rc as i32),
        })
    } else {
        Ok(rc as usize)
    }
}

fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Invalid(format!("'{s}' contains a NUL byte")))
}

/// How to reach a cluster and which pool to use.
#[derive(Debug, Clone, Default)]
pub struct ConnectOpts {
    /// Monitor addresses (`mon_host`).
    pub mon_host: String,
    pub pool: String,
    pub namespace: Option<String>,
    /// The cephx user without `client.` (`admin`).
    pub user: String,
    pub keyring: Option<String>,
    pub key: Option<String>,
    pub conf: Option<String>,
    /// Seconds the connection and each operation may take.
    pub timeout: u64,
}

/// Features of the images poolfs makes: layering (clones), exclusive
/// lock, object map, fast diff, deep flatten.
const FEATURES: u64 = 1 | 4 | 8 | 16 | 32;

/// One connection to a cluster and one I/O context on a pool (+ namespace).
#[derive(Debug)]
pub struct Cluster {
    rados: RadosT,
    io: IoctxT,
    api: &'static Api,
    /// Set once the cluster answered a call with `EBLOCKLISTED`: this
    /// client is fenced for the rest of its life (a new one is needed).
    fenced: AtomicBool,
    /// Why the cluster is down (a call got no answer within `timeout`
    /// seconds), until the probe hears from an OSD again.
    down: parking_lot::Mutex<Option<String>>,
    timeout: u64,
    /// This cluster, for the probe thread.
    me: OnceLock<Weak<Cluster>>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("librbd")
    }
}

// SAFETY: librados cluster handles and I/O contexts may be used from any
// thread at once (librados is thread-safe; poolfs never changes the
// context's namespace after `connect`).
unsafe impl Send for Cluster {}
// SAFETY: as above.
unsafe impl Sync for Cluster {}

/// The cluster's space (`rados_cluster_stat`) in bytes.
#[derive(Debug, Clone, Copy)]
pub struct ClusterSpace {
    pub total: u64,
    pub avail: u64,
}

impl Cluster {
    /// Connects (bounded by `opts.timeout`) and opens the pool's context.
    pub fn connect(opts: &ConnectOpts) -> Result<Arc<Cluster>> {
        let api = api()?;
        let mut rados: RadosT = std::ptr::null_mut();
        let name = cstr(&format!("client.{}", opts.user))?;
        // SAFETY: `rados` is an out-pointer; the strings are NUL-terminated.
        let rc = unsafe { (api.rados_create2)(&mut rados, c"ceph".as_ptr(), name.as_ptr(), 0) };
        check(rc as isize, || "cannot create a Ceph client".into())?;
        // From here `cluster`'s Drop shuts the handle down on any failure.
        let mut cluster = Cluster {
            rados,
            io: std::ptr::null_mut(),
            api,
            fenced: AtomicBool::new(false),
            down: parking_lot::Mutex::new(None),
            timeout: opts.timeout,
            me: OnceLock::new(),
        };
        if let Some(conf) = &opts.conf {
            let c = cstr(conf)?;
            // SAFETY: a valid handle and a NUL-terminated path.
            let rc = unsafe { (api.rados_conf_read_file)(rados, c.as_ptr()) };
            check(rc as isize, || {
                format!("cannot read Ceph configuration '{conf}'")
            })?;
        }
        let t = opts.timeout.to_string();
        let mut set: Vec<(&str, &str)> = vec![
            ("mon_host", &opts.mon_host),
            ("client_mount_timeout", &t),
            ("rados_mon_op_timeout", &t),
            ("rados_osd_op_timeout", &t),
            // Writes are answered once the cluster has them: a daemon that
            // dies loses no write it answered (no librbd write-back cache).
            ("rbd_cache", "false"),
            ("log_to_stderr", "false"),
            ("err_to_stderr", "false"),
            ("log_file", ""),
        ];
        if opts.mon_host.is_empty() {
            set.remove(0);
        }
        if let Some(k) = &opts.keyring {
            set.push(("keyring", k));
        }
        if let Some(k) = &opts.key {
            set.push(("key", k));
        }
        for (k, v) in set {
            let (ck, cv) = (cstr(k)?, cstr(v)?);
            // SAFETY: a valid handle and NUL-terminated strings.
            let rc = unsafe { (api.rados_conf_set)(rados, ck.as_ptr(), cv.as_ptr()) };
            check(rc as isize, || format!("bad Ceph option {k}"))?;
        }
        // SAFETY: a configured handle, connected once.
        let rc = unsafe { (api.rados_connect)(rados) };
        check(rc as isize, || {
            format!("cannot connect to the Ceph cluster at '{}'", opts.mon_host)
        })?;
        let pool = cstr(&opts.pool)?;
        // SAFETY: a connected handle, a NUL-terminated name, an out-pointer.
        let rc = unsafe { (api.rados_ioctx_create)(rados, pool.as_ptr(), &mut cluster.io) };
        if rc == -libc::ENOENT {
            return Err(Error::NotFound(format!(
                "the Ceph pool '{}' does not exist",
                opts.pool
            )));
        }
        check(rc as isize, || {
            format!("cannot open the Ceph pool '{}'", opts.pool)
        })?;
        if let Some(ns) = &opts.namespace {
            let ns = cstr(ns)?;
            // SAFETY: a valid context; librados copies the name.
            unsafe { (api.rados_ioctx_set_namespace)(cluster.io, ns.as_ptr()) };
        }
        let cluster = Arc::new(cluster);
        let _ = cluster.me.set(Arc::downgrade(&cluster));
        Ok(cluster)
    }

    /// `check`, remembering a fencing (`EBLOCKLISTED`) and a call the
    /// cluster did not answer in time (`ETIMEDOUT`: `EIO`, and the cluster
    /// is down).
    pub(super) fn check(&self, rc: isize, what: impl FnOnce() -> String) -> Result<usize> {
        if rc == -(libc::ESHUTDOWN as isize) {
            self.fenced.store(true, Ordering::Relaxed);
        }
        let r = check(rc, what);
        if rc != -(libc::ETIMEDOUT as isize) {
            return r;
        }
        let what = r.err().map(|e| e.to_string()).unwrap_or_default();
        let why = format!("no answer within {} s: {what}", self.timeout);
        self.mark_down(&why);
        Err(Error::Sys {
            what: format!("the Ceph cluster gave {why}"),
            errno: Errno::EIO,
        })
    }

    /// The cluster stopped answering: the first to see it starts the probe.
    fn mark_down(&self, why: &str) {
        let mut down = self.down.lock();
        if down.is_some() {
            return;
        }
        tracing::error!("the Ceph cluster is not answering ({why})");
        *down = Some(why.to_string());
        let Some(me) = self.me.get().cloned() else {
            return;
        };
        let probe = std::thread::Builder::new()
            .name("rbd-probe".into())
            .spawn(move || probe(me));
        if let Err(e) = probe {
            // Without a probe nothing would mark it up again: calls keep
            // going to it, each bounded by the timeout.
            tracing::warn!("cannot start a thread to watch the Ceph cluster: {e}");
            *down = None;
        }
    }

    /// Why the cluster is down, while it is (see `check`).
    pub fn down(&self) -> Option<String> {
        self.down.lock().clone()
    }

    /// Fails at once while the cluster is down, so a request for names or
    /// metadata does not wait out the timeout again.
    fn gate(&self) -> Result<()> {
        match self.down() {
            Some(why) => Err(Error::Sys {
                what: format!("the Ceph cluster is not answering ({why})"),
                errno: Errno::EIO,
            }),
            None => Ok(()),
        }
    }

    /// Another client broke a lock of this one's and fenced it: every
    /// request to the OSDs fails until the pool starts a new client.
    pub fn fenced(&self) -> bool {
        self.fenced.load(Ordering::Relaxed)
    }

    /// The cluster's raw space.
    pub fn space(&self) -> Result<ClusterSpace> {
        let mut st = ClusterStatT {
            kb: 0,
            kb_used: 0,
            kb_avail: 0,
            num_objects: 0,
        };
        // SAFETY: a connected handle and an out-struct of the C layout.
        let rc = unsafe { (self.api.rados_cluster_stat)(self.rados, &mut st) };
        self.check(rc as isize, || {
            "cannot read the Ceph cluster's usage".into()
        })?;
        Ok(ClusterSpace {
            total: st.kb * 1024,
            avail: st.kb_avail * 1024,
        })
    }

    /// This client's address as RBD names the holder of an image's lock
    /// (`127.0.0.1:0/<nonce>`).
    pub fn address(&self) -> Result<String> {
        let mut p: *mut c_char = std::ptr::null_mut();
        // SAFETY: a connected handle and an out-pointer.
        let rc = unsafe { (self.api.rados_getaddrs)(self.rados, &mut p) };
        self.check(rc as isize, || {
            "cannot read this Ceph client's address".into()
        })?;
        // SAFETY: librados returned a NUL-terminated string, freed once below.
        let text = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
        // SAFETY: as above.
        unsafe { (self.api.rados_buffer_free)(p) };
        Ok(plain_address(&text))
    }

    /// Fences client `address` (one that died): the OSDs refuse what it
    /// still sends and drop its watches at once (a dead client's watch
    /// otherwise holds every notify of the images it had open for 5 s,
    /// until it times out after 30 s).
    pub fn blocklist(&self, address: &str) -> Result<()> {
        let a = cstr(address)?;
        // SAFETY: a connected handle; librados only reads the address
        // (the C declaration lacks `const`). 0: Ceph's default expiry.
        let rc = unsafe { (self.api.rados_blocklist_add)(self.rados, a.as_ptr().cast_mut(), 0) };
        self.check(rc as isize, || {
            format!("cannot blocklist the Ceph client {address}")
        })?;
        Ok(())
    }

    /// Bytes the pool stores (what libvirt shows as its allocation).
    pub fn pool_bytes(&self) -> Result<u64> {
        self.gate()?;
        let mut st = PoolStatT::default();
        // SAFETY: a valid context and an out-struct of the C layout.
        let rc = unsafe { (self.api.rados_ioctx_pool_stat)(self.io, &mut st) };
        self.check(rc as isize, || "cannot read the Ceph pool's usage".into())?;
        Ok(st.num_bytes)
    }

    /// Every image of the pool (namespace): (id, name).
    pub fn list(&self) -> Result<Vec<(String, String)>> {
        self.gate()?;
        let mut cap = 64usize;
        loop {
            let mut specs: Vec<ImageSpecT> = Vec::with_capacity(cap);
            let mut n = cap;
            // SAFETY: `specs` has room for `n` entries; librbd fills at
            // most `n` and says how many (or how many it needs: -ERANGE).
            let rc = unsafe { (self.api.rbd_list2)(self.io, specs.as_mut_ptr(), &mut n) };
            if rc == -libc::ERANGE {
                cap = n.max(cap * 2);
                continue;
            }
            self.check(rc as isize, || {
                "cannot list the images of the Ceph pool".into()
            })?;
            // SAFETY: librbd initialised the first `n` entries.
            unsafe { specs.set_len(n) };
            let out = specs
                .iter()
                .map(|s| {
                    let f = |p: *mut c_char| {
                        // SAFETY: librbd's strings are NUL-terminated and
                        // live until the cleanup below.
                        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
                    };
                    (f(s.id), f(s.name))
                })
                .collect();
            // SAFETY: the `n` entries librbd filled, freed once.
            unsafe { (self.api.rbd_image_spec_list_cleanup)(specs.as_mut_ptr(), n) };
            return Ok(out);
        }
    }

    /// Creates an image of `size` bytes with the default features (layering,
    /// exclusive lock, object map, fast diff): sparse, nothing written.
    pub fn create(&self, name: &str, size: u64) -> Result<()> {
        self.gate()?;
        let c = cstr(name)?;
        let mut order: c_int = 0;
        // SAFETY: a valid context, a NUL-terminated name, an out-pointer.
        let rc = unsafe { (self.api.rbd_create2)(self.io, c.as_ptr(), size, FEATURES, &mut order) };
        self.check(rc as isize, || format!("cannot create image '{name}'"))?;
        Ok(())
    }

    pub fn remove(&self, name: &str) -> Result<()> {
        self.gate()?;
        let c = cstr(name)?;
        // SAFETY: a valid context and a NUL-terminated name.
        let rc = unsafe { (self.api.rbd_remove)(self.io, c.as_ptr()) };
        self.check(rc as isize, || format!("cannot remove image '{name}'"))?;
        Ok(())
    }

    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.gate()?;
        let (f, t) = (cstr(from)?, cstr(to)?);
        // SAFETY: a valid context and NUL-terminated names.
        let rc = unsafe { (self.api.rbd_rename)(self.io, f.as_ptr(), t.as_ptr()) };
        self.check(rc as isize, || {
            format!("cannot rename image '{from}' to '{to}'")
        })?;
        Ok(())
    }

    /// Opens image `name`: read-write (the exclusive lock is taken at the
    /// first write, and the image is watched: nobody removes it meanwhile),
    /// or read-only (not watched: it keeps no one from removing the image).
    pub fn open(self: &Arc<Self>, name: &str, writable: bool) -> Result<Image> {
        let c = cstr(name)?;
        let f = if writable {
            self.api.rbd_open
        } else {
            self.api.rbd_open_read_only
        };
        self.open_with(|img| {
            // SAFETY: a valid context, a NUL-terminated name, an
            // out-pointer, no snapshot.
            unsafe { f(self.io, c.as_ptr(), img, std::ptr::null()) }
        })
        .map_err(|e| with_what(e, format!("cannot open image '{name}'")))
    }

    /// Opens an image by its id (what stays when it is renamed), as `open`.
    pub fn open_by_id(self: &Arc<Self>, id: &str, writable: bool) -> Result<Image> {
        let c = cstr(id)?;
        let f = if writable {
            self.api.rbd_open_by_id
        } else {
            self.api.rbd_open_by_id_read_only
        };
        self.open_with(|img| {
            // SAFETY: as `open`.
            unsafe { f(self.io, c.as_ptr(), img, std::ptr::null()) }
        })
        .map_err(|e| with_what(e, format!("cannot open image with id '{id}'")))
    }

    fn open_with(self: &Arc<Self>, f: impl FnOnce(*mut ImageT) -> c_int) -> Result<Image> {
        self.gate()?;
        let mut img: ImageT = std::ptr::null_mut();
        self.check(f(&mut img) as isize, String::new)?;
        Ok(Image {
            img,
            cluster: self.clone(),
        })
    }
}

/// Reads nothing from an object every second until an OSD answers (any
/// answer but a timeout: `ENOENT` will do), then marks the cluster up.
fn probe(me: Weak<Cluster>) {
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let Some(c) = me.upgrade() else { return };
        let mut byte: c_char = 0;
        // SAFETY: a valid context, a NUL-terminated name, a buffer of at
        // least the length given (0).
        let rc = unsafe { (c.api.rados_read)(c.io, c"rbd_directory".as_ptr(), &mut byte, 0, 0) };
        if rc != -libc::ETIMEDOUT {
            *c.down.lock() = None;
            tracing::info!("the Ceph cluster answers again");
            return;
        }
    }
}

/// An entity address without its protocol and brackets: `[v2:1.2.3.4:0/99]`
/// and `1.2.3.4:0/99` are both `1.2.3.4:0/99`.
pub fn plain_address(text: &str) -> String {
    let first = text
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .next()
        .unwrap_or_default();
    first
        .strip_prefix("v2:")
        .or_else(|| first.strip_prefix("v1:"))
        .or_else(|| first.strip_prefix("any:"))
        .unwrap_or(first)
        .to_string()
}

fn with_what(e: Error, what: String) -> Error {
    match e {
        Error::Sys { errno, what: why } if !why.is_empty() => Error::Sys {
            what: format!("{what}: {why}"),
            errno,
        },
        Error::Sys { errno, .. } => Error::Sys { what, errno },
        e => e,
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SAFETY: no image uses the context any more (each held an `Arc`
        // of this cluster); both handles are released once.
        unsafe {
            if !self.io.is_null() {
                (self.api.rados_ioctx_destroy)(self.io);
            }
            (self.api.rados_shutdown)(self.rados);
        }
    }
}
