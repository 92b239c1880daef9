//! The journal's unit tests (no mount).

use super::*;

fn sample(j: &Journal) {
    j.pool("u-1", 3);
    j.number(&Number {
        ino: 1 << 40,
        pool: 3,
        id: (7, 9),
        key: vec![1, 2, 3],
        path: "a/b.img".into(),
    });
    j.open_handle(&Handle {
        fh: 5,
        ino: 1 << 40,
        kind: HandleKind::Volume,
        flags: libc::O_RDWR,
        uid: 1000,
        gid: 100,
    });
    j.backing(&Backing {
        fh: 5,
        ino: 1 << 40,
        id: 2,
        writable: true,
    });
    j.open_handle(&Handle {
        fh: 6,
        ino: 1 << 40,
        kind: HandleKind::Volume,
        flags: 0,
        uid: 0,
        gid: 0,
    });
    j.release(6);
    j.intent(77);
    j.wipe(9, true);
    j.wipe(10, true);
    j.wipe(10, false);
    j.begun(80, b"1024");
    j.begun(81, b"start");
    j.intent(81);
    j.note(3, b"v1");
    j.note(3, b"v2");
    let op = |start, end, typ| LockOp {
        fh: 5,
        start,
        end,
        typ,
    };
    j.lock((1 << 40, 9, false), op(0, 9, libc::F_WRLCK));
    j.lock((1 << 40, 9, false), op(100, 199, libc::F_RDLCK));
    j.lock((1 << 40, 9, false), op(0, 9, libc::F_UNLCK));
    j.lock((1 << 40, 8, true), op(0, u64::MAX, libc::F_WRLCK));
    j.unlocked((1 << 40, 8, true));
    j.number(&Number {
        ino: (1 << 40) + 1,
        pool: 3,
        id: (7, 10),
        key: vec![4],
        path: "gone.img".into(),
    });
    j.unnumber((1 << 40) + 1);
}

#[test]
fn a_successor_reads_what_was_written() {
    let f = memfd().unwrap();
    let init = Negotiated {
        passthrough: true,
        uring: false,
    };
    let j = Journal::create(f.try_clone().unwrap(), 42, init).unwrap();
    sample(&j);
    assert!(!on_ring(&f));
    let (_, s) = Journal::open(f).unwrap().unwrap();
    assert_eq!(s.generation, 42);
    assert!(s.passthrough);
    assert!(!s.uring);
    assert_eq!(s.pools.get("u-1"), Some(&3));
    assert_eq!(s.numbers[&(1 << 40)].path, "a/b.img");
    assert_eq!(s.numbers.len(), 1, "a number whose object went is dropped");
    assert_eq!(s.handles.keys().copied().collect::<Vec<_>>(), vec![5]);
    assert_eq!(s.backing[&5].id, 2);
    assert!(s.intents.contains(&77));
    assert_eq!(s.wipes.iter().copied().collect::<Vec<_>>(), vec![9]);
    assert_eq!(s.begun.keys().copied().collect::<Vec<_>>(), vec![80]);
    assert_eq!(s.begun[&80], b"1024");
    assert_eq!(s.notes[&3], b"v2");
    // The unlock undid the first lock entirely: only the second is left.
    assert_eq!(s.locks.len(), 1);
    assert_eq!(s.locks[&(1 << 40, 9, false)].len(), 1);
    assert_eq!(s.locks[&(1 << 40, 9, false)][0].start, 100);
}

#[test]
fn the_ring_transport_is_kept_for_the_keeper_and_a_successor() {
    let f = memfd().unwrap();
    let init = Negotiated {
        passthrough: false,
        uring: true,
    };
    Journal::create(f.try_clone().unwrap(), 3, init).unwrap();
    assert!(on_ring(&f));
    let (_, s) = Journal::open(f).unwrap().unwrap();
    assert!(s.uring && !s.passthrough);
}

#[test]
fn an_older_format_is_taken_over_and_marked_as_ours() {
    let f = memfd().unwrap();
    let j = Journal::create(f.try_clone().unwrap(), 7, Negotiated::default()).unwrap();
    j.intent(5);
    f.write_all_at(&OLDEST.to_le_bytes(), 8).unwrap();
    let (_, s) = Journal::open(f.try_clone().unwrap()).unwrap().unwrap();
    assert!(s.intents.contains(&5));
    let mut v = [0u8; 4];
    f.read_exact_at(&mut v, 8).unwrap();
    assert_eq!(u32::from_le_bytes(v), VERSION);
    f.write_all_at(&(VERSION + 1).to_le_bytes(), 8).unwrap();
    let e = Journal::open(f).unwrap_err().to_string();
    assert!(e.contains("format"), "{e}");
}

#[test]
fn compaction_keeps_the_state() {
    let f = memfd().unwrap();
    let j = Journal::create(f.try_clone().unwrap(), 1, Negotiated::default()).unwrap();
    sample(&j);
    let before = Journal::open(f.try_clone().unwrap()).unwrap().unwrap().1;
    Journal::compact(&mut j.inner.lock()).unwrap();
    let after = Journal::open(f.try_clone().unwrap()).unwrap().unwrap().1;
    assert_eq!(before, after);
    // And the journal goes on in the new region.
    j.release(5);
    let (_, s) = Journal::open(f).unwrap().unwrap();
    assert!(s.handles.is_empty());
    assert!(s.backing.is_empty());
}

#[test]
fn an_empty_file_is_no_journal() {
    assert!(Journal::open(memfd().unwrap()).unwrap().is_none());
}
