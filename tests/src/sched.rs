//! Virtual time and the deterministic event queue.
//!
//! Time is a `u64` count of virtual nanoseconds that only moves when the next event is taken.
//! Events at the same instant run in the order they were scheduled (a sequence number breaks ties),
//! so a run is a pure function of the seed and the configuration.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Virtual nanoseconds since the emulator started.
pub type Nanos = u64;

struct Entry<E> {
    at: Nanos,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse so the earliest (then first scheduled) pops first.
        other.at.cmp(&self.at).then(other.seq.cmp(&self.seq))
    }
}

/// A virtual clock with a queue of future events.
pub struct Scheduler<E> {
    now: Nanos,
    seq: u64,
    queue: BinaryHeap<Entry<E>>,
}

impl<E> Default for Scheduler<E> {
    fn default() -> Self {
        Self {
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
        }
    }
}

impl<E> Scheduler<E> {
    /// The current virtual time.
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// Schedules `event` to run `delay` nanoseconds from now.
    pub fn after(&mut self, delay: Nanos, event: E) {
        self.at(self.now.saturating_add(delay), event);
    }

    /// Schedules `event` at absolute time `at` (never earlier than now).
    pub fn at(&mut self, at: Nanos, event: E) {
        self.seq += 1;
        self.queue.push(Entry {
            at: at.max(self.now),
            seq: self.seq,
            event,
        });
    }

    /// Takes the next event and advances the clock to its time.
    pub fn pop(&mut self) -> Option<E> {
        let e = self.queue.pop()?;
        self.now = e.at;
        Some(e.event)
    }

    /// Time of the next event, if any.
    pub fn peek_time(&self) -> Option<Nanos> {
        self.queue.peek().map(|e| e.at)
    }

    /// Number of queued events.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no event is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Scheduler;

    #[test]
    fn events_pop_in_time_then_schedule_order() {
        let mut s = Scheduler::default();
        s.after(50, "c");
        s.after(10, "a");
        s.after(50, "d");
        s.after(10, "b");
        assert_eq!(s.peek_time(), Some(10));
        let mut out = Vec::new();
        while let Some(e) = s.pop() {
            out.push((s.now(), e));
        }
        assert_eq!(out, vec![(10, "a"), (10, "b"), (50, "c"), (50, "d")]);
    }

    #[test]
    fn clock_never_goes_backwards() {
        let mut s = Scheduler::default();
        s.after(100, 1);
        assert_eq!(s.pop(), Some(1));
        s.at(5, 2);
        assert_eq!(s.pop(), Some(2));
        assert_eq!(s.now(), 100);
        assert!(s.is_empty());
        assert_eq!(s.len(), 0);
    }
}
