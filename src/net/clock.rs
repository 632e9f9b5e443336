//! Local time: the offset from UTC at an instant, as the C library knows it (TZ, /etc/localtime), for time
//! stamps printed the way tcpdump prints them.

/// Seconds east of UTC at `sec` seconds since the epoch (0 when the C library cannot say).
pub fn utc_offset(sec: i64) -> i64 {
    let t: libc::time_t = sec as libc::time_t;
    // SAFETY: an all-zero tm is a valid value for localtime_r to overwrite.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is the thread-safe variant.
    let r = unsafe { libc::localtime_r(&t, &mut tm) };
    if r.is_null() {
        0
    } else {
        tm.tm_gmtoff
    }
}
