//! Leak checks: what a module left behind at FilterDetach, and what the driver left at unload.

use crate::rules::{Rule, Subject};
use crate::world::{ConfigScope, OrigState, World};

/// One leak of `rule` per subject, all with the same detail.
pub(crate) fn leak_each(
    w: &mut World,
    rule: Rule,
    subjects: impl IntoIterator<Item = Subject>,
    phase: &str,
    detail: &str,
) {
    for s in subjects {
        w.leak(rule, s, phase, detail);
    }
}

/// Configuration handles of `scope` still open (`None`: any scope).
pub(crate) fn config_leaks(w: &mut World, scope: Option<ConfigScope>, phase: &str) {
    let open: Vec<usize> = w
        .configs
        .iter()
        .filter(|(_, c)| scope.is_none_or(|s| c.scope == s))
        .map(|(&h, _)| h)
        .collect();
    for h in &open {
        w.configs.remove(h);
        w.handles.remove(h);
    }
    leak_each(
        w,
        Rule::LeakConfig,
        open.into_iter().map(Subject::Handle),
        phase,
        "configuration handle not closed with NdisCloseConfiguration",
    );
}

pub(super) fn detach_leaks(w: &mut World, a: usize) {
    let phase = format!("detach adapter {a}");
    config_leaks(w, Some(ConfigScope::Module(a)), &phase);
    super::forward::owed_leaks(w, a, &phase);
    let h = w.module_handle(a);
    let o = w.outstanding(a);
    if o != (0, 0, 0, 0) {
        w.leak(
            Rule::LeakHeldNbl,
            Subject::Handle(h),
            &phase,
            format!(
                "held from above {}, from below {}, below {}, above {}",
                o.0, o.1, o.2, o.3
            ),
        );
    }
    let pools: Vec<(usize, usize)> = w
        .pools
        .iter()
        .filter(|(_, p)| p.owner == h && !p.freed)
        .map(|(&k, p)| (k, p.live))
        .collect();
    for (p, live) in pools {
        w.leak(
            Rule::LeakPool,
            Subject::Handle(p),
            &phase,
            format!("pool of the module not freed ({live} NBLs live)"),
        );
        if live > 0 {
            w.leak(
                Rule::LeakNbl,
                Subject::Handle(p),
                &phase,
                format!("{live} NBLs of the module's pool not freed"),
            );
        }
    }
    let clones: Vec<usize> = w
        .oid_clones
        .iter()
        .filter(|(_, c)| c.owner == h)
        .map(|(&k, _)| k)
        .collect();
    leak_each(
        w,
        Rule::LeakOidClone,
        clones.into_iter().map(Subject::Request),
        &phase,
        "OID clone not freed",
    );
    let pending: Vec<usize> = w
        .orig_oids
        .iter()
        .filter(|(_, o)| {
            o.adapter == a && matches!(o.state, OrigState::Pending | OrigState::InFilter)
        })
        .map(|(&k, _)| k)
        .collect();
    leak_each(
        w,
        Rule::OidNeverCompleted,
        pending.into_iter().map(Subject::Request),
        &phase,
        "OID request from above pended and never completed",
    );
    super::timer::timer_leaks(w, Some(h), &phase);
}

/// The NDIS side of unload: everything the driver left behind.
pub(crate) fn unload_leaks(w: &mut World) {
    let phase = "unload";
    config_leaks(w, None, phase);
    if let Some(d) = &w.driver
        && !d.deregistered
    {
        w.leak(
            Rule::LeakRegistration,
            Subject::Driver,
            phase,
            "DriverUnload did not call NdisFDeregisterFilterDriver",
        );
    }
    let pools: Vec<(usize, usize)> = w
        .pools
        .iter()
        .filter(|(_, p)| p.owner != 0 && !p.freed)
        .map(|(&k, p)| (k, p.live))
        .collect();
    for (p, live) in pools {
        w.leak(
            Rule::LeakPool,
            Subject::Handle(p),
            phase,
            format!("NBL pool not freed ({live} NBLs live)"),
        );
        if live > 0 {
            w.leak(
                Rule::LeakNbl,
                Subject::Handle(p),
                phase,
                format!("{live} NBLs not freed"),
            );
        }
    }
    let clone_live = w.pools.get(&w.clone_pool).map_or(0, |p| p.live);
    if clone_live > 0 {
        w.leak(
            Rule::LeakNbl,
            Subject::Handle(w.clone_pool),
            phase,
            format!("{clone_live} NBL clones not freed"),
        );
    }
    let mem: Vec<(usize, usize)> = w.memory.iter().map(|(&k, v)| (k, v.0.size())).collect();
    for (p, size) in mem {
        w.leak(
            Rule::LeakMemory,
            Subject::Memory(p),
            phase,
            format!("{size} bytes not freed"),
        );
    }
    let devs: Vec<Subject> = w.devices.keys().map(|&d| Subject::Handle(d)).collect();
    leak_each(
        w,
        Rule::LeakDevice,
        devs,
        phase,
        "control device not deregistered",
    );
    let clones: Vec<Subject> = w.oid_clones.keys().map(|&c| Subject::Request(c)).collect();
    leak_each(w, Rule::LeakOidClone, clones, phase, "OID clone not freed");
    let driver = w.driver.as_ref().map(|d| d.token.addr());
    if let Some(d) = driver {
        super::timer::timer_leaks(w, Some(d), phase);
    }
    crate::exports::etw::provider_leaks(w, phase);
}
