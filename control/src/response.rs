//! Responses: what the driver writes into the output buffer.
//!
//! **ListGroups** — a 16-byte head, then the group records, then the path records:
//!
//! | offset | field |
//! |---|---|
//! | 0 | header (length = the whole answer) |
//! | 8 | `group_count u32` |
//! | 12 | `path_count u32` |
//! | 16 | `group_count` × [`GroupRecord`] ([`GROUP_RECORD_LEN`] bytes each) |
//! | … | `path_count` × [`PathRecord`] ([`PATH_RECORD_LEN`] bytes each) |
//!
//! When the output buffer is too small for the whole answer but holds the head, the driver
//! writes the head alone (its length field saying how many bytes the answer needs) and completes
//! with `STATUS_BUFFER_OVERFLOW`; the caller asks again with a buffer that large.
//!
//! **ModuleStats** — header, `if_index u32`, `count u32` (= [`MODULE_COUNTERS`]), then `count`
//! u64 counters in the order of [`MODULE_COUNTER_NAMES`].

use crate::code::Ioctl;
use crate::error::{DecodeError, EncodeError};
use crate::header::{HEADER_LEN, Header};
use crate::wire::{put_u32, put_u64, u32_at, u64_at};

/// Bytes of the list's head (header and the two counts).
pub const LIST_HEAD_LEN: usize = HEADER_LEN + 8;
/// Bytes of one group record.
pub const GROUP_RECORD_LEN: usize = 40;
/// Bytes of one path record.
pub const PATH_RECORD_LEN: usize = 112;
/// Most groups a list may hold (the driver's group table).
pub const MAX_GROUPS: u32 = 16;
/// Most paths a group may hold (the engine's path table).
pub const MAX_PATHS_PER_GROUP: u32 = 16;
/// Bytes of a group's policy name field (ASCII, NUL-padded).
pub const POLICY_NAME_LEN: usize = 24;

/// A path's state (the engine's `PathState`, by its wire code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathState {
    /// Healthy, role Active: selectable.
    Active = 0,
    /// Healthy, role Standby: selectable only while no path is Active.
    Standby = 1,
    /// Not usable.
    Failed = 2,
    /// Healthy again, waiting out its hold-down.
    Recovering = 3,
    /// Flapping: selectable only as a last resort.
    Marginal = 4,
}

impl PathState {
    const ALL: [PathState; 5] = [
        PathState::Active,
        PathState::Standby,
        PathState::Failed,
        PathState::Recovering,
        PathState::Marginal,
    ];

    fn from_wire(field: &'static str, v: u8) -> Result<PathState, DecodeError> {
        Self::ALL
            .get(usize::from(v))
            .copied()
            .ok_or(DecodeError::BadValue {
                field,
                value: u64::from(v),
            })
    }

    /// The lower-case name `mpctl show` prints.
    pub const fn name(self) -> &'static str {
        match self {
            PathState::Active => "active",
            PathState::Standby => "standby",
            PathState::Failed => "failed",
            PathState::Recovering => "recovering",
            PathState::Marginal => "marginal",
        }
    }
}

/// Why a path's last transition happened (the engine's `Reason`, by its wire code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Reason {
    Initial = 0,
    LinkDown = 1,
    LinkUp = 2,
    SendErrors = 3,
    ErrorsForgiven = 4,
    ShimPathFailed = 5,
    ShimPathRecovered = 6,
    ProbeLost = 7,
    ProbeAnswered = 8,
    MemberPaused = 9,
    MemberRestarted = 10,
    MemberDetached = 11,
    MemberAttached = 12,
    AdminFail = 13,
    AdminReinstate = 14,
    HoldDownElapsed = 15,
    FlapDamped = 16,
    MarginalStable = 17,
    NoOtherPath = 18,
}

impl Reason {
    /// Every reason, by wire code.
    pub const ALL: [Reason; 19] = [
        Reason::Initial,
        Reason::LinkDown,
        Reason::LinkUp,
        Reason::SendErrors,
        Reason::ErrorsForgiven,
        Reason::ShimPathFailed,
        Reason::ShimPathRecovered,
        Reason::ProbeLost,
        Reason::ProbeAnswered,
        Reason::MemberPaused,
        Reason::MemberRestarted,
        Reason::MemberDetached,
        Reason::MemberAttached,
        Reason::AdminFail,
        Reason::AdminReinstate,
        Reason::HoldDownElapsed,
        Reason::FlapDamped,
        Reason::MarginalStable,
        Reason::NoOtherPath,
    ];

    fn from_wire(v: u8) -> Result<Reason, DecodeError> {
        Self::ALL
            .get(usize::from(v))
            .copied()
            .ok_or(DecodeError::BadValue {
                field: "reason",
                value: u64::from(v),
            })
    }
}

/// One path group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupRecord {
    /// GroupId.
    pub group: u32,
    /// How many times the group was rebuilt.
    pub generation: u32,
    /// The engine's eligible set (bit per path).
    pub eligible_mask: u32,
    /// How many of the list's path records belong to it.
    pub members: u32,
    /// The policy's name, ASCII, NUL-padded.
    pub policy: [u8; POLICY_NAME_LEN],
}

impl GroupRecord {
    /// A policy name field from `name` (cut to the field; non-ASCII bytes become `?`).
    pub fn policy_field(name: &str) -> [u8; POLICY_NAME_LEN] {
        let mut out = [0; POLICY_NAME_LEN];
        for (o, b) in out.iter_mut().zip(name.bytes()) {
            *o = if b.is_ascii_graphic() { b } else { b'?' };
        }
        out
    }

    /// The policy's name.
    pub fn policy_name(&self) -> &str {
        let end = self
            .policy
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(POLICY_NAME_LEN);
        core::str::from_utf8(&self.policy[..end]).unwrap_or("?")
    }

    fn put(&self, b: &mut [u8]) {
        put_u32(b, 0, self.group);
        put_u32(b, 4, self.generation);
        put_u32(b, 8, self.eligible_mask);
        put_u32(b, 12, self.members);
        b[16..16 + POLICY_NAME_LEN].copy_from_slice(&self.policy);
    }

    fn decode(b: &[u8]) -> Result<GroupRecord, DecodeError> {
        let members = u32_at(b, 12);
        if members > MAX_PATHS_PER_GROUP {
            return Err(DecodeError::BadValue {
                field: "members",
                value: u64::from(members),
            });
        }
        let mut policy = [0; POLICY_NAME_LEN];
        policy.copy_from_slice(&b[16..16 + POLICY_NAME_LEN]);
        let end = policy
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(POLICY_NAME_LEN);
        if !policy[..end].iter().all(u8::is_ascii_graphic) || policy[end..].iter().any(|&c| c != 0)
        {
            return Err(DecodeError::BadValue {
                field: "policy",
                value: end as u64,
            });
        }
        Ok(GroupRecord {
            group: u32_at(b, 0),
            generation: u32_at(b, 4),
            eligible_mask: u32_at(b, 8),
            members,
            policy,
        })
    }
}

/// One member of a group and its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathRecord {
    /// The group's GroupId.
    pub group: u32,
    /// The member module's IfIndex (what AdminPath and ModuleStats name it by).
    pub if_index: u32,
    /// The member's seat in its group.
    pub seat: u8,
    /// The member is Running.
    pub running: bool,
    /// Its media is connected.
    pub connected: bool,
    /// The engine has a path for it (false while its group has no engine).
    pub has_path: bool,
    /// The path's state.
    pub state: PathState,
    /// The state before its last transition.
    pub from: PathState,
    /// Why the last transition happened.
    pub reason: Reason,
    /// The policy's share of the traffic, parts per million (None: depends on the traffic).
    pub share_ppm: Option<u32>,
    /// The weight the policy schedules by, in its own unit.
    pub weight: Option<u32>,
    /// The transmit link speed last reported, bits/s.
    pub xmit_bps: u64,
    /// The measured transfer speed, bits/s.
    pub speed_bps: Option<u64>,
    /// When the last transition happened (the driver's clock, ns).
    pub last_transition_ns: u64,
    /// Transitions since the group was built.
    pub transitions: u64,
    /// Counted send errors.
    pub send_errors: u64,
    /// NBLs handed to the path.
    pub sent_nbls: u64,
    /// Bytes handed to the path.
    pub sent_bytes: u64,
    /// NBLs completed successfully.
    pub completed_nbls: u64,
    /// Bytes completed successfully.
    pub completed_bytes: u64,
    /// NBLs completed with an error.
    pub failed_nbls: u64,
    /// Bytes completed with an error.
    pub failed_bytes: u64,
}

const FLAG_RUNNING: u8 = 1;
const FLAG_CONNECTED: u8 = 2;
const FLAG_HAS_PATH: u8 = 4;
const NONE_U32: u32 = u32::MAX;
const NONE_U64: u64 = u64::MAX;

impl PathRecord {
    /// NBLs in flight on the path (sent and not completed).
    pub fn inflight_nbls(&self) -> u64 {
        self.sent_nbls
            .saturating_sub(self.completed_nbls.saturating_add(self.failed_nbls))
    }

    fn put(&self, b: &mut [u8]) {
        put_u32(b, 0, self.group);
        put_u32(b, 4, self.if_index);
        b[8] = self.seat;
        b[9] = (u8::from(self.running) * FLAG_RUNNING)
            | (u8::from(self.connected) * FLAG_CONNECTED)
            | (u8::from(self.has_path) * FLAG_HAS_PATH);
        b[10] = self.state as u8;
        b[11] = self.reason as u8;
        b[12] = self.from as u8;
        b[13..16].fill(0);
        put_u32(b, 16, self.share_ppm.unwrap_or(NONE_U32));
        put_u32(b, 20, self.weight.unwrap_or(NONE_U32));
        put_u64(b, 24, self.xmit_bps);
        put_u64(b, 32, self.speed_bps.unwrap_or(NONE_U64));
        for (i, v) in [
            self.last_transition_ns,
            self.transitions,
            self.send_errors,
            self.sent_nbls,
            self.sent_bytes,
            self.completed_nbls,
            self.completed_bytes,
            self.failed_nbls,
            self.failed_bytes,
        ]
        .into_iter()
        .enumerate()
        {
            put_u64(b, 40 + 8 * i, v);
        }
    }

    fn decode(b: &[u8]) -> Result<PathRecord, DecodeError> {
        let seat = b[8];
        if u32::from(seat) >= MAX_PATHS_PER_GROUP {
            return Err(DecodeError::BadValue {
                field: "seat",
                value: u64::from(seat),
            });
        }
        let flags = b[9];
        if flags & !(FLAG_RUNNING | FLAG_CONNECTED | FLAG_HAS_PATH) != 0 {
            return Err(DecodeError::BadValue {
                field: "flags",
                value: u64::from(flags),
            });
        }
        if b[13..16].iter().any(|&c| c != 0) {
            return Err(DecodeError::ReservedNotZero);
        }
        let if_index = u32_at(b, 4);
        if if_index == 0 {
            return Err(DecodeError::ZeroIfIndex);
        }
        let opt32 = |v: u32| (v != NONE_U32).then_some(v);
        let at = |i: usize| u64_at(b, 40 + 8 * i);
        let speed = u64_at(b, 32);
        Ok(PathRecord {
            group: u32_at(b, 0),
            if_index,
            seat,
            running: flags & FLAG_RUNNING != 0,
            connected: flags & FLAG_CONNECTED != 0,
            has_path: flags & FLAG_HAS_PATH != 0,
            state: PathState::from_wire("state", b[10])?,
            reason: Reason::from_wire(b[11])?,
            from: PathState::from_wire("from", b[12])?,
            share_ppm: opt32(u32_at(b, 16)),
            weight: opt32(u32_at(b, 20)),
            xmit_bps: u64_at(b, 24),
            speed_bps: (speed != NONE_U64).then_some(speed),
            last_transition_ns: at(0),
            transitions: at(1),
            send_errors: at(2),
            sent_nbls: at(3),
            sent_bytes: at(4),
            completed_nbls: at(5),
            completed_bytes: at(6),
            failed_nbls: at(7),
            failed_bytes: at(8),
        })
    }
}

/// Bytes of a list with `groups` group and `paths` path records.
pub const fn list_len(groups: usize, paths: usize) -> usize {
    LIST_HEAD_LEN + groups * GROUP_RECORD_LEN + paths * PATH_RECORD_LEN
}

/// A decoded, validated ListGroups answer: a view over its bytes.
#[derive(Clone, Copy, Debug)]
pub struct GroupList<'a> {
    bytes: &'a [u8],
    groups: usize,
    paths: usize,
}

impl<'a> GroupList<'a> {
    /// Writes the answer for `groups` and `paths` (each group's paths in the order of the
    /// groups) into `out`; returns the bytes written.
    ///
    /// # Errors
    /// [`EncodeError`] when `out` cannot hold the whole answer. If it holds the head, the head
    /// is written (its length field is the size needed) and the caller completes with
    /// `STATUS_BUFFER_OVERFLOW` and [`LIST_HEAD_LEN`] bytes.
    pub fn encode(
        out: &mut [u8],
        groups: &[GroupRecord],
        paths: &[PathRecord],
    ) -> Result<usize, EncodeError> {
        let needed = list_len(groups.len(), paths.len());
        if out.len() >= LIST_HEAD_LEN {
            // Both counts are bounded by the driver's tables (16 groups of 16 paths).
            #[allow(clippy::cast_possible_truncation)]
            {
                Header::new(Ioctl::ListGroups, needed as u32).put(out);
                put_u32(out, HEADER_LEN, groups.len() as u32);
                put_u32(out, HEADER_LEN + 4, paths.len() as u32);
            }
        }
        if out.len() < needed {
            return Err(EncodeError { needed });
        }
        for (i, g) in groups.iter().enumerate() {
            let at = LIST_HEAD_LEN + i * GROUP_RECORD_LEN;
            g.put(&mut out[at..at + GROUP_RECORD_LEN]);
        }
        let base = LIST_HEAD_LEN + groups.len() * GROUP_RECORD_LEN;
        for (i, p) in paths.iter().enumerate() {
            let at = base + i * PATH_RECORD_LEN;
            p.put(&mut out[at..at + PATH_RECORD_LEN]);
        }
        Ok(needed)
    }

    /// The size a whole answer needs, read from a head the driver wrote with
    /// `STATUS_BUFFER_OVERFLOW`.
    ///
    /// # Errors
    /// A head that is short, of another version or IOCTL, or whose length is not its counts'.
    pub fn needed(head: &[u8]) -> Result<usize, DecodeError> {
        let h = head.get(..LIST_HEAD_LEN).ok_or(DecodeError::Truncated {
            len: head.len(),
            needed: LIST_HEAD_LEN,
        })?;
        // The length field is the whole answer's, beyond these bytes: check version and kind
        // alone, then the length against the counts.
        let version = crate::wire::u16_at(h, 0);
        if version != crate::header::VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let kind = crate::wire::u16_at(h, 2);
        if kind != Ioctl::ListGroups.kind() {
            return Err(DecodeError::WrongKind {
                expected: Ioctl::ListGroups.kind(),
                found: kind,
            });
        }
        let (groups, paths) = counts(h)?;
        let needed = list_len(groups, paths);
        let declared = u32_at(h, 4);
        if declared as usize != needed {
            return Err(DecodeError::BadLength {
                declared,
                present: head.len(),
            });
        }
        Ok(needed)
    }

    /// Decodes a whole answer.
    ///
    /// # Errors
    /// [`DecodeError`] for a short buffer, another version or IOCTL, counts beyond the driver's
    /// tables, a length that is not the counts', a group whose member count disagrees with the
    /// path records, or any record field out of range.
    pub fn decode(b: &'a [u8]) -> Result<GroupList<'a>, DecodeError> {
        let header = Header::decode(b, Ioctl::ListGroups)?;
        if b.len() < LIST_HEAD_LEN {
            return Err(DecodeError::Truncated {
                len: b.len(),
                needed: LIST_HEAD_LEN,
            });
        }
        let (groups, paths) = counts(b)?;
        let needed = list_len(groups, paths);
        if header.length as usize != needed {
            return Err(DecodeError::BadLength {
                declared: header.length,
                present: b.len(),
            });
        }
        let list = GroupList {
            bytes: &b[..needed],
            groups,
            paths,
        };
        let mut members = 0usize;
        for g in 0..groups {
            members += list.group_at(g)?.members as usize;
        }
        if members != paths {
            return Err(DecodeError::BadValue {
                field: "path_count",
                value: paths as u64,
            });
        }
        for p in 0..paths {
            list.path_at(p)?;
        }
        Ok(list)
    }

    fn group_at(&self, i: usize) -> Result<GroupRecord, DecodeError> {
        let at = LIST_HEAD_LEN + i * GROUP_RECORD_LEN;
        GroupRecord::decode(&self.bytes[at..at + GROUP_RECORD_LEN])
    }

    fn path_at(&self, i: usize) -> Result<PathRecord, DecodeError> {
        let at = LIST_HEAD_LEN + self.groups * GROUP_RECORD_LEN + i * PATH_RECORD_LEN;
        PathRecord::decode(&self.bytes[at..at + PATH_RECORD_LEN])
    }

    /// The groups, in the driver's order.
    pub fn groups(&self) -> impl Iterator<Item = GroupRecord> + '_ {
        // Validated by `decode`.
        (0..self.groups).filter_map(|i| self.group_at(i).ok())
    }

    /// Every path, each group's paths together in the order of the groups.
    pub fn paths(&self) -> impl Iterator<Item = PathRecord> + '_ {
        (0..self.paths).filter_map(|i| self.path_at(i).ok())
    }

    /// The paths of the group whose GroupId is `group`.
    pub fn paths_of(&self, group: u32) -> impl Iterator<Item = PathRecord> + '_ {
        self.paths().filter(move |p| p.group == group)
    }
}

fn counts(b: &[u8]) -> Result<(usize, usize), DecodeError> {
    let groups = u32_at(b, HEADER_LEN);
    let paths = u32_at(b, HEADER_LEN + 4);
    if groups > MAX_GROUPS {
        return Err(DecodeError::BadValue {
            field: "group_count",
            value: u64::from(groups),
        });
    }
    if paths > MAX_GROUPS * MAX_PATHS_PER_GROUP {
        return Err(DecodeError::BadValue {
            field: "path_count",
            value: u64::from(paths),
        });
    }
    Ok((groups as usize, paths as usize))
}

/// The module counters that are gauges (what is held now, not a running total): a reset leaves
/// them as they are.
pub const MODULE_GAUGES: [&str; 1] = ["send_nbls_parked_now"];

/// Whether the module counter at wire position `index` is a gauge ([`MODULE_GAUGES`]).
pub fn is_gauge(index: usize) -> bool {
    MODULE_COUNTER_NAMES
        .get(index)
        .is_some_and(|n| MODULE_GAUGES.contains(n))
}

/// How many counters a module answer carries.
pub const MODULE_COUNTERS: usize = MODULE_COUNTER_NAMES.len();
/// Bytes of a module answer.
pub const MODULE_ANSWER_LEN: usize = HEADER_LEN + 8 + 8 * MODULE_COUNTERS;

/// The module counters' names, in wire order (the filter's `ModuleStats` fields).
pub const MODULE_COUNTER_NAMES: [&str; 59] = [
    "send_nbls_forwarded",
    "send_bytes_forwarded",
    "send_nbls_completed",
    "send_nbls_rejected_paused",
    "send_cancels_forwarded",
    "receive_nbls_indicated",
    "receive_bytes_indicated",
    "receive_nbls_returned",
    "receive_nbls_rejected_paused",
    "oids_forwarded",
    "oids_completed_pending",
    "oid_clone_failures",
    "oid_cancels_forwarded",
    "status_indications",
    "pnp_events_forwarded",
    "pauses",
    "pauses_pended",
    "restarts",
    "protocol_errors",
    "send_nbls_rerouted",
    "send_children_completed",
    "send_nbls_retried",
    "send_nbls_retries_exhausted",
    "send_nbls_failed_no_path",
    "send_nbls_failed_resources",
    "send_reroute_fallbacks",
    "loopback_indicated",
    "loopback_failed",
    "send_nbls_failed_incapable",
    "status_indications_narrowed",
    "send_headers_malformed",
    "send_own_unknown",
    "send_nbls_parked",
    "send_nbls_park_overflow",
    "send_nbls_parked_now",
    "send_nbls_park_expired",
    "send_nbls_park_flushed",
    "send_nbls_park_cancelled",
    "team_refusals",
    "team_settings_ignored",
    "shim_events",
    "shim_events_stale",
    "shim_events_malformed",
    "shim_health_answers",
    "shim_health_failed",
    "shim_settings_applied",
    "probes_sent",
    "probe_answers",
    "probes_missed",
    "packet_filter_sets",
    "packet_filter_sets_failed",
    "receive_nbls_filtered",
    "receive_nbls_taken_over",
    "receive_takeover_dropped",
    "send_headers_rewritten",
    "send_rewrite_skipped",
    "announcements_sent",
    "announcements_skipped",
    "receive_nbls_readdressed",
];

/// One module's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleCounters {
    /// The module's IfIndex.
    pub if_index: u32,
    /// The counters, in the order of [`MODULE_COUNTER_NAMES`].
    pub values: [u64; MODULE_COUNTERS],
}

impl ModuleCounters {
    /// The counter called `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<u64> {
        MODULE_COUNTER_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| self.values[i])
    }

    /// Writes the answer into `out`; returns the bytes written.
    ///
    /// # Errors
    /// [`EncodeError`] when `out` is shorter than [`MODULE_ANSWER_LEN`]; nothing is written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        if out.len() < MODULE_ANSWER_LEN {
            return Err(EncodeError {
                needed: MODULE_ANSWER_LEN,
            });
        }
        // A few hundred bytes.
        #[allow(clippy::cast_possible_truncation)]
        Header::new(Ioctl::ModuleStats, MODULE_ANSWER_LEN as u32).put(out);
        put_u32(out, HEADER_LEN, self.if_index);
        #[allow(clippy::cast_possible_truncation)]
        put_u32(out, HEADER_LEN + 4, MODULE_COUNTERS as u32);
        for (i, v) in self.values.iter().enumerate() {
            put_u64(out, HEADER_LEN + 8 + 8 * i, *v);
        }
        Ok(MODULE_ANSWER_LEN)
    }

    /// Decodes a module answer.
    ///
    /// # Errors
    /// [`DecodeError`] for a short buffer, another version or IOCTL, a counter count other than
    /// [`MODULE_COUNTERS`], a length other than [`MODULE_ANSWER_LEN`], or IfIndex 0.
    pub fn decode(b: &[u8]) -> Result<ModuleCounters, DecodeError> {
        let header = Header::decode(b, Ioctl::ModuleStats)?;
        if b.len() < MODULE_ANSWER_LEN {
            return Err(DecodeError::Truncated {
                len: b.len(),
                needed: MODULE_ANSWER_LEN,
            });
        }
        if header.length as usize != MODULE_ANSWER_LEN {
            return Err(DecodeError::BadLength {
                declared: header.length,
                present: b.len(),
            });
        }
        let if_index = u32_at(b, HEADER_LEN);
        if if_index == 0 {
            return Err(DecodeError::ZeroIfIndex);
        }
        let count = u32_at(b, HEADER_LEN + 4);
        if count as usize != MODULE_COUNTERS {
            return Err(DecodeError::BadValue {
                field: "count",
                value: u64::from(count),
            });
        }
        let mut values = [0; MODULE_COUNTERS];
        for (i, v) in values.iter_mut().enumerate() {
            *v = u64_at(b, HEADER_LEN + 8 + 8 * i);
        }
        Ok(ModuleCounters { if_index, values })
    }
}
