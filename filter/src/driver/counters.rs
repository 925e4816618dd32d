//! A module's counters as the control device's wire carries them: [`ModuleStats`] to and from
//! the value array of [`mpctl_proto::ModuleCounters`], in the order of
//! [`mpctl_proto::MODULE_COUNTER_NAMES`].

use crate::module::ModuleStats;
use mpctl_proto::MODULE_COUNTERS;

/// Lists every field once: the conversions below follow it, and building `ModuleStats` from it
/// with no `..` fails to compile when a field is added and not listed here.
macro_rules! counter_fields {
    ($($f:ident,)*) => {
        /// The field names, in wire order.
        #[cfg(test)]
        const FIELD_NAMES: &[&str] = &[$(stringify!($f)),*];

        /// The counters in wire order.
        pub(crate) fn values(s: &ModuleStats) -> [u64; MODULE_COUNTERS] {
            [$(s.$f),*]
        }

        /// The counters from a wire value array.
        pub fn from_values(v: &[u64; MODULE_COUNTERS]) -> ModuleStats {
            let mut it = v.iter().copied();
            ModuleStats {
                $($f: it.next().unwrap_or(0),)*
            }
        }
    };
}

counter_fields! {
    send_nbls_forwarded,
    send_bytes_forwarded,
    send_nbls_completed,
    send_nbls_rejected_paused,
    send_cancels_forwarded,
    receive_nbls_indicated,
    receive_bytes_indicated,
    receive_nbls_returned,
    receive_nbls_rejected_paused,
    oids_forwarded,
    oids_completed_pending,
    oid_clone_failures,
    oid_cancels_forwarded,
    status_indications,
    pnp_events_forwarded,
    pauses,
    pauses_pended,
    restarts,
    protocol_errors,
    send_nbls_rerouted,
    send_children_completed,
    send_nbls_retried,
    send_nbls_retries_exhausted,
    send_nbls_failed_no_path,
    send_nbls_failed_resources,
    send_reroute_fallbacks,
    loopback_indicated,
    loopback_failed,
    send_nbls_failed_incapable,
    status_indications_narrowed,
    send_headers_malformed,
    send_own_unknown,
    send_nbls_parked,
    send_nbls_park_overflow,
    send_nbls_parked_now,
    send_nbls_park_expired,
    send_nbls_park_flushed,
    send_nbls_park_cancelled,
    team_refusals,
    team_settings_ignored,
    shim_events,
    shim_events_stale,
    shim_events_malformed,
    shim_health_answers,
    shim_health_failed,
    shim_settings_applied,
    probes_sent,
    probe_answers,
    probes_missed,
    packet_filter_sets,
    packet_filter_sets_failed,
    receive_nbls_filtered,
    receive_nbls_taken_over,
    receive_takeover_dropped,
    send_headers_rewritten,
    send_rewrite_skipped,
    announcements_sent,
    announcements_skipped,
    receive_nbls_readdressed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_names_are_the_fields_in_order() {
        assert_eq!(FIELD_NAMES, mpctl_proto::MODULE_COUNTER_NAMES);
    }

    #[test]
    fn counters_round_trip_and_keep_their_places() {
        let mut v = [0; MODULE_COUNTERS];
        for (i, x) in v.iter_mut().enumerate() {
            *x = 7 + i as u64;
        }
        let s = from_values(&v);
        assert_eq!(s.send_nbls_forwarded, 7);
        assert_eq!(
            s.send_nbls_rerouted,
            7 + mpctl_proto::MODULE_COUNTER_NAMES
                .iter()
                .position(|n| *n == "send_nbls_rerouted")
                .unwrap() as u64
        );
        assert_eq!(values(&s), v);
    }
}
