//! `ZMQ_XPUB_MANUAL`, which the zmq crate has no setter for. In manual mode the XPUB socket
//! hands a subscription to us without applying it; the publisher applies it and, before
//! sending anything else, replays the newest jobs, so that the new subscriber's first
//! messages are the workbases its first shares need (an automatic XPUB could pass it a
//! share between taking its subscription and our reading of it).

use std::os::raw::{c_int, c_void};

/// Puts `socket` (an XPUB) in manual subscription mode.
pub fn set_manual(socket: &mut zmq::Socket) -> Result<(), zmq::Error> {
    let on: c_int = 1;
    // SAFETY: `socket` is a live libzmq socket held exclusively here; ZMQ_XPUB_MANUAL takes
    // an int, and `on` outlives the call, which copies it.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            socket.as_mut_ptr(),
            zmq_sys::ZMQ_XPUB_MANUAL as c_int,
            (&on as *const c_int).cast::<c_void>(),
            std::mem::size_of::<c_int>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        // SAFETY: reads the calling thread's libzmq errno; no pointers involved.
        Err(zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() }))
    }
}
