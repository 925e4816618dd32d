//! The rules the emulator enforces, each with a stable name, and the records of breaking them.
//!
//! Every rule comes from `shared/reference/ndis-lwf-facts.md` §2 (source tags as there);
//! `docs/ndis-rules.md` tabulates them with the test that proves each one is caught.

use crate::sched::Nanos;
use std::fmt;

macro_rules! rules {
    ($( $(#[$m:meta])* $v:ident => $name:literal, $source:literal, $meaning:literal; )*) => {
        /// A rule of the NDIS contract the emulator checks.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Rule {
            $( $(#[$m])* #[doc = $meaning] $v, )*
        }

        impl Rule {
            /// Every rule, in documentation order.
            pub const ALL: &'static [Rule] = &[$(Rule::$v),*];

            /// The stable name, e.g. `send.complete-twice`.
            pub fn name(self) -> &'static str {
                match self { $(Rule::$v => $name,)* }
            }

            /// What the rule requires, in one sentence.
            pub fn meaning(self) -> &'static str {
                match self { $(Rule::$v => $meaning,)* }
            }

            /// Where the rule comes from (reference source tags).
            pub fn source(self) -> &'static str {
                match self { $(Rule::$v => $source,)* }
            }

            /// The rule with this stable name.
            pub fn from_name(name: &str) -> Option<Rule> {
                Rule::ALL.iter().copied().find(|r| r.name() == name)
            }
        }
    };
}

rules! {
    DriverCharacteristics => "driver.characteristics", "[DDI NdisFRegisterFilterDriver][DOC:data-bypass-mode]",
        "NdisFRegisterFilterDriver gets a rev-2 (or later) characteristics header of type 0x8B with Attach, Detach, Pause and Restart handlers, SendComplete whenever Send is set and Return whenever Receive is set, FriendlyName, UniqueName (a braced GUID, the INF's NetCfgInstanceId) and ServiceName set, and is called once, at PASSIVE_LEVEL.";
    HandleInvalid => "handle.invalid", "[DDI]",
        "Every NDIS call passes a handle NDIS gave the driver (driver, module, pool, device) and the right kind of handle for that call.";
    AttachNoSetAttributes => "attach.no-set-attributes", "[DDI FilterAttach][DOC:attaching-a-filter-module]",
        "FilterAttach that returns NDIS_STATUS_SUCCESS must have called NdisFSetAttributes.";
    AttachSetAttributesOutside => "attach.set-attributes-outside-attach", "[DDI NdisFSetAttributes][XDP]",
        "NdisFSetAttributes is called only from inside FilterAttach, once, for the module being attached.";
    StateSendNotRunning => "state.send-not-running", "[DOC:filter-module-states-and-operations]",
        "NdisFSendNetBufferLists is called only while the module is Running.";
    StateIndicateNotRunning => "state.indicate-not-running", "[DOC:filter-module-states-and-operations]",
        "NdisFIndicateReceiveNetBufferLists is called only while the module is Running.";
    SendPausedWhileRunning => "send.paused-while-running", "[DOC:filter-module-states-and-operations]",
        "NBLs from above are completed with NDIS_STATUS_PAUSED only while the module is not Running: a Running module (its restart reported success) passes sends on.";
    SendPausedStatus => "send.paused-status", "[DOC:pausing-a-filter-module]",
        "NBLs arriving in FilterSendNetBufferLists while the module is not Running are completed at once with NDIS_STATUS_PAUSED.";
    PauseFailed => "pause.failed", "[DOC:filter-module-states-and-operations]",
        "FilterPause cannot fail: it returns NDIS_STATUS_SUCCESS or NDIS_STATUS_PENDING.";
    PauseOutstanding => "pause.outstanding-nbls", "[DOC:pausing-a-filter-module][SO]",
        "A pause completes (SUCCESS from FilterPause or NdisFPauseComplete) only when the module has no sends below, no indications above and holds no NBLs.";
    PauseCompleteNotPending => "pause.complete-not-pending", "[DDI NdisFPauseComplete]",
        "NdisFPauseComplete is called once, only for a pause for which FilterPause returned (or is about to return) NDIS_STATUS_PENDING.";
    PauseNeverCompleted => "pause.never-completed", "[DDI FilterPause]",
        "A pause that returned NDIS_STATUS_PENDING is completed with NdisFPauseComplete once the module's outstanding NBLs come back.";
    RestartCompleteNotPending => "restart.complete-not-pending", "[DDI NdisFRestartComplete]",
        "NdisFRestartComplete is called once, only for a restart for which FilterRestart returned NDIS_STATUS_PENDING.";
    RestartNeverCompleted => "restart.never-completed", "[DDI FilterRestart]",
        "A restart that returned NDIS_STATUS_PENDING is completed with NdisFRestartComplete.";
    IrqlDispatchFlagMismatch => "irql.dispatch-flag-mismatch", "[DOC:dispatch-irql-tracking]",
        "The DISPATCH_LEVEL bit of send, send-complete, receive and return flags is never set below DISPATCH_LEVEL, and is set at DISPATCH_LEVEL wherever the filter knows the IRQL. It does not know it in the callbacks NDIS makes at any IRQL up to DISPATCH_LEVEL without flags (FilterCancelSendNetBufferLists, FilterStatus, FilterOidRequestComplete, FilterCancelOidRequest) unless it holds a spin lock there: there the documentation asks for a clear bit, since the IRQL is unknown.";
    IrqlPassiveOnly => "irql.passive-only", "[DDI req.irql]",
        "PASSIVE_LEVEL-only functions (register/deregister, NdisFSetAttributes, NdisRegisterDeviceEx, NdisSetOptionalHandlers, NdisFRestartComplete, NdisOpenConfigurationEx, NdisReadConfiguration, NdisCloseConfiguration) are not called at DISPATCH_LEVEL.";
    SendCompleteTwice => "send.complete-twice", "[DOC:sending-data-from-a-filter-driver][SO]",
        "Each NBL from above is completed exactly once with NdisFSendNetBufferListsComplete.";
    SendCompleteWrongModule => "send.complete-wrong-module", "[DOC:sending-data-from-a-filter-driver][SO]",
        "An NBL from above is completed on the same module handle whose FilterSendNetBufferLists received it.";
    SendCompleteOwnNbl => "send.complete-own-nbl", "[SO]",
        "The filter never completes upward an NBL it originated (its own pool NBLs and clones).";
    SendCompleteNotOwned => "send.complete-not-owned", "[DOC:sending-data-from-a-filter-driver]",
        "NdisFSendNetBufferListsComplete is called only for NBLs the filter holds (not ones still below it, indicated up, or received from below).";
    SendNotOwned => "send.not-owned", "[DDI NdisFSendNetBufferLists]",
        "NdisFSendNetBufferLists is called only with NBLs the filter holds: from its FilterSendNetBufferLists, or its own, and not already below.";
    SendBeyondAdapterLimits => "send.beyond-adapter-limits", "[DOC:offloading-the-segmentation-of-large-tcp-packets][DDI NDIS_RESTART_GENERAL_ATTRIBUTES]",
        "No NBL reaches a miniport beyond what its stack offers: a large send only where LSO is on and within its MaxOffLoadSize, a frame only within its MTU.";
    SendTouchedWhilePending => "send.touched-while-pending", "[DOC:sending-data-from-a-filter-driver]",
        "After NdisFSendNetBufferLists the caller does not modify the NBL until it comes back in FilterSendNetBufferListsComplete.";
    NblUnknown => "nbl.unknown", "[DDI]",
        "Every NBL passed to NDIS is a live NBL that NDIS allocated (never freed, never a caller-made structure).";
    NblChainCycle => "nbl.chain-cycle", "[DDI NET_BUFFER_LIST]",
        "An NBL chain (Next links) and each NBL's NET_BUFFER chain end in NULL: no cycle, no absurd length.";
    NblSourceHandleModified => "nbl.source-handle-modified", "[DDI NdisFSendNetBufferLists, NdisFIndicateReceiveNetBufferLists]",
        "SourceHandle of an NBL another driver originated is never changed.";
    NblSourceHandleNotFilter => "nbl.source-handle-not-filter", "[DDI NdisFSendNetBufferLists, NdisFIndicateReceiveNetBufferLists]",
        "An NBL the filter originates (pool NBL or clone) carries SourceHandle = the sending module's NdisFilterHandle.";
    NblModifiedOnHandback => "nbl.modified-on-handback", "[WDS comments]",
        "An NBL from another driver is handed back (completed up, returned down) unmodified except for Next, Status, Scratch and the reserved areas of NDIS and the miniport.";
    NblDataWritten => "nbl.data-written", "[DDI NdisAllocateCloneNetBufferList][DERIVED]",
        "The frame data an NBL from another driver describes is unchanged when the filter hands it back: a filter that changes a header sends its own copy of it, never writes the buffers it was given.";
    NblContextNotRestored => "nbl.context-not-restored", "[DDI NdisAllocateNetBufferListContext]",
        "Contexts a filter pushes onto another driver's NBL are popped before the NBL is handed back.";
    RecvCountMismatch => "recv.count-mismatch", "[DDI NdisFIndicateReceiveNetBufferLists]",
        "NumberOfNetBufferLists equals the length of the indicated chain.";
    RecvReturnResources => "recv.return-resources", "[DOC:receiving-data-in-a-filter-driver]",
        "NBLs indicated with NDIS_RECEIVE_FLAGS_RESOURCES are never returned with NdisFReturnNetBufferLists.";
    RecvResourcesChainNotRestored => "recv.resources-chain-not-restored", "[DOC:receiving-data-in-a-filter-driver]",
        "With NDIS_RECEIVE_FLAGS_RESOURCES the filter restores the original chain before FilterReceiveNetBufferLists returns.";
    RecvResourcesIndicatedWithoutFlag => "recv.resources-indicated-without-flag", "[DOC:receiving-data-in-a-filter-driver]",
        "An NBL received with NDIS_RECEIVE_FLAGS_RESOURCES is indicated up only with that flag, so ownership is back before the callback returns.";
    RecvReturnTwice => "recv.return-twice", "[DOC:receiving-data-in-a-filter-driver]",
        "Each NBL received without RESOURCES is returned exactly once.";
    RecvReturnWrongModule => "recv.return-wrong-module", "[DOC:receiving-data-in-a-filter-driver]",
        "A received NBL is returned on the module handle whose FilterReceiveNetBufferLists got it.";
    RecvReturnNotOwned => "recv.return-not-owned", "[DOC:receiving-data-in-a-filter-driver]",
        "NdisFReturnNetBufferLists is called only for NBLs received from below that the filter holds (not its own, not ones indicated up and not yet returned).";
    RecvIndicateNotOwned => "recv.indicate-not-owned", "[DDI NdisFIndicateReceiveNetBufferLists]",
        "NdisFIndicateReceiveNetBufferLists is called only with NBLs the filter holds (received from below or its own), not ones already indicated.";
    RecvTouchedWhileIndicated => "recv.touched-while-indicated", "[DOC:receiving-data-in-a-filter-driver]",
        "After indicating an NBL up, the filter does not modify it until FilterReturnNetBufferLists gives it back.";
    OidOriginalForwarded => "oid.original-forwarded", "[DOC:filtering-oid-requests][WDS]",
        "An OID request from above is never passed to NdisFOidRequest; the filter forwards a clone.";
    OidCompleteTwice => "oid.complete-twice", "[WDS]",
        "An OID request from above is completed exactly once.";
    OidCompleteNotPending => "oid.complete-not-pending", "[NDL][WDS]",
        "NdisFOidRequestComplete is called only for a request whose FilterOidRequest returned NDIS_STATUS_PENDING.";
    OidCompleteOwnRequest => "oid.complete-own-request", "[DOC:filtering-oid-requests]",
        "A request the filter originated (or a clone) is never completed upward with NdisFOidRequestComplete.";
    OidCompleteWrongModule => "oid.complete-wrong-module", "[DOC:filtering-oid-requests]",
        "An OID request is completed on the module handle whose FilterOidRequest received it.";
    OidNeverCompleted => "oid.never-completed", "[WDS]",
        "FilterOidRequest that returned NDIS_STATUS_PENDING is followed by NdisFOidRequestComplete before the module is paused for detach.";
    OidAnswerAltered => "oid.answer-altered", "[NDL][WDS][DOC:filtering-oid-requests]",
        "The status, BytesWritten/BytesRead, BytesNeeded and SupportedRevision the miniport set on the filter's clone reach the original request from above unchanged.";
    OidCloneFreeInvalid => "oid.clone-free-invalid", "[DDI NdisFreeCloneOidRequest]",
        "NdisFreeCloneOidRequest frees a live clone from NdisAllocateCloneOidRequest that is not still below the filter, on the handle that allocated it.";
    OidBadState => "oid.bad-state", "[DOC:filter-module-states-and-operations]",
        "NdisFOidRequest is not called while the module is Attaching or Detached.";
    StatusBadState => "status.bad-state", "[DOC:filter-module-states-and-operations]",
        "NdisFIndicateStatus is not called while the module is Attaching or Detached.";
    StatusSourceHandle => "status.source-handle", "[DOC:filter-module-status-indications]",
        "A status indication the filter originates has SourceHandle = its NdisFilterHandle.";
    ForwardStatusDropped => "forward.status-dropped", "[DOC:filter-module-status-indications]",
        "A pass-through filter passes every status indication from below up with NdisFIndicateStatus (checked at detach).";
    ForwardStatusAltered => "forward.status-altered", "[DOC:filter-module-status-indications]",
        "A forwarded status indication reaches the protocol as the miniport raised it: SourceHandle, port, code, flags, buffer size and buffer bytes. One exception, checked byte for byte: a filter may pass up its own copy of NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG instead, whose LSOv2 limits are lowered or off and nothing else changed.";
    ForwardPnpDropped => "forward.pnp-dropped", "[DDI FilterNetPnPEvent, FilterDevicePnPEventNotify]",
        "A pass-through filter passes every NetPnPEvent and DevicePnPEventNotify from NDIS down with NdisFNetPnPEvent / NdisFDevicePnPEventNotify (checked at detach).";
    ForwardPnpAltered => "forward.pnp-altered", "[DDI FilterNetPnPEvent, FilterDevicePnPEventNotify]",
        "A forwarded PnP event reaches the miniport as NDIS issued it (event code, port, buffer length and bytes), and FilterNetPnPEvent returns the status the drivers below returned.";
    ForwardCancelDropped => "forward.cancel-dropped", "[DOC:canceling-a-send-request][DDI FilterCancelOidRequest]",
        "A filter that queues nothing passes every send cancel and OID cancel from above down, with the same cancel id or request id, on its own module (checked at detach).";
    ForwardPortAltered => "forward.port-altered", "[DDI NdisFSendNetBufferLists, NdisFIndicateReceiveNetBufferLists]",
        "An NBL from above is sent down, and one from below indicated up, on the port number it arrived with.";
    CloneFreeFlagsMismatch => "clone.free-flags-mismatch", "[DDI][WDKH]",
        "NdisFreeCloneNetBufferList gets the same flags the clone was allocated with.";
    CloneParentCompletedWithChildren => "clone.parent-completed-with-children", "[DOC:relationships-between-net-buffer-list-generations]",
        "A cloned NBL's children are freed before the parent is completed or returned.";
    CloneParentPassedOn => "clone.parent-passed-on", "[DOC:relationships-between-net-buffer-list-generations]",
        "While it has live clones, a parent NBL is kept, never sent down or indicated up.";
    CloneFlagsReserved => "clone.flags-reserved", "[DDI NdisAllocateCloneNetBufferList, NdisFreeCloneNetBufferList]",
        "NdisAllocateCloneNetBufferList and NdisFreeCloneNetBufferList get no clone flag but NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS (NDIS_CLONE_FLAGS_RESERVED, 1, is NDIS's).";
    CloneFreeNotClone => "clone.free-not-clone", "[DDI NdisFreeCloneNetBufferList]",
        "NdisFreeCloneNetBufferList is used only on live clones the filter holds; NdisFreeNetBufferList never on a clone.";
    NblFreeInvalid => "nbl.free-invalid", "[DDI NdisFreeNetBufferList]",
        "NdisFreeNetBufferList frees only a live, pool-allocated NBL the filter holds (not one below, above, or already freed).";
    PoolFreeOutstanding => "pool.free-with-outstanding", "[DDI NdisFreeNetBufferListPool]",
        "An NBL pool is freed only after every NBL allocated from it was freed.";
    ContextFreeInvalid => "context.free-invalid", "[DDI NdisFreeNetBufferListContext]",
        "NdisFreeNetBufferListContext frees no more than was allocated on that NBL's context stack.";
    MemoryFreeInvalid => "memory.free-invalid", "[DDI NdisFreeMemory]",
        "NdisFreeMemory frees only live memory from NdisAllocateMemoryWithTagPriority.";
    ConfigBadObject => "config.bad-object", "[DDI NdisOpenConfigurationEx, NDIS_CONFIGURATION_OBJECT][DOC:accessing-configuration-information-for-a-filter-driver]",
        "NdisOpenConfigurationEx gets a configuration object of type 0xA9, revision 1 or later and size 0x14 or more, without NDIS_CONFIG_FLAG_FILTER_INSTANCE_CONFIGURATION (monitoring filters only).";
    LivenessNoProgress => "liveness.no-progress", "[DOC:sending-data-from-a-filter-driver][DOC:receiving-data-in-a-filter-driver]",
        "While the protocol waits for send completions or the miniport for returns, one comes back within the progress timeout of virtual time, and the run never goes idle with either owed; while a Running module's miniport keeps indicating frames to the protocol's own MAC, the protocol receives one within the progress timeout.";
    LivenessCallbackSpins => "liveness.callback-spins", "[DOC:bug-check-0x133--dpc-watchdog-violation]",
        "Every callback returns: one that calls into NDIS 5,000,000 times without returning (a loop waiting for what cannot change while it runs) is reported and the run is ended, since nothing can interrupt a driver; Windows bug-checks such a callback at DISPATCH_LEVEL (DPC_WATCHDOG_VIOLATION).";
    LeakHeldNbl => "leak.held-nbl", "[DOC:detaching-a-filter-module]",
        "At detach the module holds no NBL from above or below and none is outstanding below or above it.";
    LeakNbl => "leak.nbl", "[DOC:detaching-a-filter-module]",
        "Every NBL and clone the driver allocated is freed by detach (module pools) or unload (driver pools).";
    LeakPool => "leak.pool", "[DOC:detaching-a-filter-module]",
        "Every NBL pool is freed by detach (module handle) or unload (driver handle).";
    LeakOidClone => "leak.oid-clone", "[WDS]",
        "Every OID clone is freed with NdisFreeCloneOidRequest by detach.";
    LeakContext => "leak.context", "[DDI NdisFreeNetBufferListContext]",
        "A pool NBL is freed with only the context its pool preallocates (pushed contexts popped first).";
    LeakMemory => "leak.memory", "[DDI NdisFreeMemory]",
        "Memory from NdisAllocateMemoryWithTagPriority is freed by unload.";
    LeakDevice => "leak.device", "[WDS device.c]",
        "A control device from NdisRegisterDeviceEx is deregistered by unload.";
    LeakConfig => "leak.config", "[DDI NdisCloseConfiguration]",
        "Every configuration handle from NdisOpenConfigurationEx is closed with NdisCloseConfiguration by detach (module handle) or unload (driver handle).";
    LeakRegistration => "leak.registration", "[WDS filter.c]",
        "DriverUnload calls NdisFDeregisterFilterDriver.";
    TimerCharacteristics => "timer.characteristics", "[DDI NdisAllocateTimerObject, NDIS_TIMER_CHARACTERISTICS]",
        "NdisAllocateTimerObject gets a driver or module handle, an out handle and characteristics with header type 0x97, revision 1 or later, size at least 24 and a TimerFunction.";
    TimerFreeWhileSet => "timer.free-while-set", "[DDI NdisFreeTimerObject]",
        "NdisFreeTimerObject frees a timer that is not set: the driver cancels it first.";
    TimerCancelPeriodicAtDispatch => "timer.cancel-periodic-at-dispatch", "[DDI NdisCancelTimerObject]",
        "A periodic timer is cancelled at PASSIVE_LEVEL, where NdisCancelTimerObject can flush its queued DPCs.";
    TimerSetAtDetach => "timer.set-at-detach", "[DDI NdisCancelTimerObject][DDI FilterDetach]",
        "No timer of a module is still set when FilterDetach returns, and none of the driver when DriverUnload returns, so no timer callback reaches a module or driver that is gone.";
    SpinLockInvalid => "spinlock.invalid", "[DDI NdisAllocateSpinLock, NdisFreeSpinLock]",
        "The NDIS spin-lock functions get a lock NdisAllocateSpinLock initialised and NdisFreeSpinLock has not freed, and a held lock is neither re-initialised nor freed.";
    SpinLockReleaseNotHeld => "spinlock.release-not-held", "[DDI NdisReleaseSpinLock, NdisDprReleaseSpinLock]",
        "A spin lock is released only while held, NdisReleaseSpinLock after NdisAcquireSpinLock and NdisDprReleaseSpinLock after NdisDprAcquireSpinLock.";
    SpinLockRecursiveAcquire => "spinlock.recursive-acquire", "[DDI NdisAcquireSpinLock]",
        "A spin lock is not acquired while it is held (on one processor that is a deadlock).";
    SpinLockDprBelowDispatch => "spinlock.dpr-below-dispatch", "[DDI NdisDprAcquireSpinLock, NdisDprReleaseSpinLock]",
        "NdisDprAcquireSpinLock and NdisDprReleaseSpinLock are called only at DISPATCH_LEVEL.";
    SpinLockHeldOnReturn => "spinlock.held-on-return", "[DDI NdisAcquireSpinLock][DOC:synchronization-and-notification-in-network-drivers]",
        "Every spin lock a callback (or timer function) acquires is released before it returns to NDIS.";
    LeakTimer => "leak.timer", "[DDI NdisFreeTimerObject]",
        "Every timer object is freed by detach (module handle) or unload (driver handle).";
    DeviceAttributes => "device.attributes", "[DDI NdisRegisterDeviceEx, NDIS_DEVICE_OBJECT_ATTRIBUTES]",
        "NdisRegisterDeviceEx gets attributes of type 0x85, revision 1 or later and size 0x38 or more, a NULL DeviceClassGuid (reserved for NDIS) and no PnP or Power dispatch routine.";
    IrpNotCompleted => "irp.not-completed", "[DDI IoCompleteRequest][DOC:completing-irps]",
        "A control device's dispatch routine that does not pend its IRP (no driver here does) completes it with IoCompleteRequest before it returns.";
    IrpCompletedTwice => "irp.completed-twice", "[DDI IoCompleteRequest]",
        "An IRP is completed once, and only an IRP the driver was given and still owns.";
    IrpInformationOverrun => "irp.information-overrun", "[DOC:buffer-descriptions-for-i-o-control-codes]",
        "A METHOD_BUFFERED IRP completes with IoStatus.Information no larger than the caller's output buffer (the I/O manager copies that many bytes back).";
    IrpWriteAccess => "irp.write-access", "[DDI IoValidateDeviceIoControlAccess][DOC:security-issues-for-i-o-control-codes]",
        "An IOCTL whose code demands FILE_WRITE_ACCESS does not succeed on a handle without write access.";
    EtwInvalid => "etw.invalid", "[DDI EtwRegister, EtwUnregister, EtwWriteTransfer]",
        "The ETW provider functions get a registration handle EtwRegister returned and EtwUnregister has not closed, EtwRegister non-NULL ProviderId and RegHandle, and EtwRegister and EtwUnregister run at PASSIVE_LEVEL.";
    LeakEtwProvider => "leak.etw-provider", "[DDI EtwUnregister]",
        "Every ETW provider the driver registers is unregistered by unload (and by a failing DriverEntry).";
    RecvOutsideProtocolFilter => "recv.outside-protocol-filter", "[DOC:oid-gen-current-packet-filter][DOC:sending-data-from-a-filter-driver]",
        "With a fabric, no frame is indicated to a protocol that the packet filter it set itself would reject: a filter that widens the miniport's filter (promiscuous) does not pass the extra frames on.";
    OidPacketFilterAltered => "oid.packet-filter-altered", "[DOC:oid-gen-current-packet-filter]",
        "With a fabric, a protocol's query of OID_GEN_CURRENT_PACKET_FILTER returns the filter it last set: bits a filter added below it are hidden.";
    WireSourceMac => "wire.source-mac", "[IEEE 802.3 clause 3.2.3][DOC:NIC-Teaming-MAC-Address-Use-and-Management]",
        "With a fabric, every frame a miniport puts on its wire has a unicast, non-zero source MAC, and a protocol's frame its sender's: its own adapter's, or in rewrite mode (the adapter's MacMode) the adapter that carries it.";
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a violation or leak is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A NET_BUFFER_LIST at this address.
    Nbl(usize),
    /// An NDIS handle (driver, module, pool, device).
    Handle(usize),
    /// An NDIS_OID_REQUEST at this address.
    Request(usize),
    /// Memory at this address.
    Memory(usize),
    /// The driver as a whole.
    Driver,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Nbl(a) => write!(f, "NBL {a:#x}"),
            Subject::Handle(a) => write!(f, "handle {a:#x}"),
            Subject::Request(a) => write!(f, "OID request {a:#x}"),
            Subject::Memory(a) => write!(f, "memory {a:#x}"),
            Subject::Driver => f.write_str("driver"),
        }
    }
}

/// One broken rule: the run halts at the first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The rule.
    pub rule: Rule,
    /// What it is about.
    pub subject: Subject,
    /// The NDIS function the driver called (or `-` when the emulator found it by itself).
    pub call: &'static str,
    /// The filter callback the emulator was in when it happened (`-` outside any).
    pub callback: String,
    /// Virtual time.
    pub at: Nanos,
    /// Specifics.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {} in {} via {} at {} ns: {}",
            self.rule, self.subject, self.callback, self.call, self.at, self.detail
        )
    }
}

/// Something still allocated or held when the driver said it was done with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leak {
    /// The leak rule (`leak.*`).
    pub rule: Rule,
    /// What leaked.
    pub subject: Subject,
    /// When it was found, e.g. `detach adapter 0` or `unload`.
    pub phase: String,
    /// Specifics.
    pub detail: String,
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {} at {}: {}",
            self.rule, self.subject, self.phase, self.detail
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Rule;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_stable_and_round_trip() {
        let mut seen = HashSet::new();
        for r in Rule::ALL {
            assert!(seen.insert(r.name()), "duplicate {}", r.name());
            assert_eq!(Rule::from_name(r.name()), Some(*r));
            assert!(r.name().contains('.'));
            assert!(!r.meaning().is_empty() && !r.source().is_empty());
        }
        assert_eq!(Rule::SendCompleteTwice.name(), "send.complete-twice");
        assert_eq!(Rule::from_name("no.such-rule"), None);
    }
}
