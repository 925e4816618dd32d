//! The ndis.sys export table: every function of `mpfilter::ndis::ffi`'s ndis.sys block, host
//! symbol plus win64 entry point, each forwarding to its one implementation.
#![allow(clippy::wildcard_imports)]

use super::{config, datapath, driver, nbl, oid};
use core::ffi::c_void;
use mpfilter::ndis::types::*;

crate::exports! {
    "ndis.sys" => {
        fn NdisFRegisterFilterDriver(d: *mut DRIVER_OBJECT, ctx: NDIS_HANDLE, c: *mut NDIS_FILTER_DRIVER_CHARACTERISTICS, out: *mut NDIS_HANDLE) -> NDIS_STATUS => driver::register;
        fn NdisFDeregisterFilterDriver(h: NDIS_HANDLE) => driver::deregister;
        fn NdisGetVersion() -> u32 => driver::get_version;
        fn NdisRegisterDeviceEx(h: NDIS_HANDLE, a: *mut NDIS_DEVICE_OBJECT_ATTRIBUTES, d: *mut *mut DEVICE_OBJECT, dh: *mut NDIS_HANDLE) -> NDIS_STATUS => driver::register_device;
        fn NdisDeregisterDeviceEx(h: NDIS_HANDLE) => driver::deregister_device;
        fn NdisGetDeviceReservedExtension(d: *mut DEVICE_OBJECT) -> *mut c_void => driver::device_extension;
        fn NdisAllocateMemoryWithTagPriority(h: NDIS_HANDLE, len: u32, tag: u32, prio: EX_POOL_PRIORITY) -> *mut c_void => driver::alloc_memory;
        fn NdisFreeMemory(p: *mut c_void, len: u32, flags: u32) => driver::free_memory;
        fn NdisFSetAttributes(h: NDIS_HANDLE, ctx: NDIS_HANDLE, a: *mut NDIS_FILTER_ATTRIBUTES) -> NDIS_STATUS => driver::set_attributes;
        fn NdisFSendNetBufferLists(h: NDIS_HANDLE, n: *mut NET_BUFFER_LIST, port: NDIS_PORT_NUMBER, flags: u32) => datapath::send;
        fn NdisFSendNetBufferListsComplete(h: NDIS_HANDLE, n: *mut NET_BUFFER_LIST, flags: u32) => datapath::send_complete;
        fn NdisFIndicateReceiveNetBufferLists(h: NDIS_HANDLE, n: *mut NET_BUFFER_LIST, port: NDIS_PORT_NUMBER, count: u32, flags: u32) => datapath::indicate;
        fn NdisFReturnNetBufferLists(h: NDIS_HANDLE, n: *mut NET_BUFFER_LIST, flags: u32) => datapath::return_nbls;
        fn NdisFCancelSendNetBufferLists(h: NDIS_HANDLE, id: *mut c_void) => datapath::cancel_send;
        fn NdisFOidRequest(h: NDIS_HANDLE, r: *mut NDIS_OID_REQUEST) -> NDIS_STATUS => oid::oid_request;
        fn NdisFOidRequestComplete(h: NDIS_HANDLE, r: *mut NDIS_OID_REQUEST, s: NDIS_STATUS) => oid::oid_complete;
        fn NdisFCancelOidRequest(h: NDIS_HANDLE, id: *mut c_void) => oid::cancel_oid;
        fn NdisAllocateCloneOidRequest(h: NDIS_HANDLE, r: *mut NDIS_OID_REQUEST, tag: u32, out: *mut *mut NDIS_OID_REQUEST) -> NDIS_STATUS => oid::alloc_clone;
        fn NdisFreeCloneOidRequest(h: NDIS_HANDLE, r: *mut NDIS_OID_REQUEST) => oid::free_clone;
        fn NdisFIndicateStatus(h: NDIS_HANDLE, s: *mut NDIS_STATUS_INDICATION) => driver::indicate_status;
        fn NdisFNetPnPEvent(h: NDIS_HANDLE, e: *mut NET_PNP_EVENT_NOTIFICATION) -> NDIS_STATUS => driver::net_pnp;
        fn NdisFDevicePnPEventNotify(h: NDIS_HANDLE, e: *mut NET_DEVICE_PNP_EVENT) => driver::device_pnp;
        fn NdisFPauseComplete(h: NDIS_HANDLE) => driver::pause_complete;
        fn NdisFRestartComplete(h: NDIS_HANDLE, s: NDIS_STATUS) => driver::restart_complete;
        fn NdisFRestartFilter(h: NDIS_HANDLE) -> NDIS_STATUS => driver::restart_filter;
        fn NdisSetOptionalHandlers(h: NDIS_HANDLE, o: *mut NDIS_DRIVER_OPTIONAL_HANDLERS) -> NDIS_STATUS => driver::set_optional_handlers;
        fn NdisAllocateNetBufferListPool(h: NDIS_HANDLE, p: *mut NET_BUFFER_LIST_POOL_PARAMETERS) -> NDIS_HANDLE => nbl::alloc_pool;
        fn NdisFreeNetBufferListPool(p: NDIS_HANDLE) => nbl::free_pool;
        fn NdisAllocateNetBufferList(p: NDIS_HANDLE, cs: u16, cb: u16) -> *mut NET_BUFFER_LIST => nbl::alloc_nbl;
        fn NdisAllocateNetBufferAndNetBufferList(p: NDIS_HANDLE, cs: u16, cb: u16, m: *mut MDL, off: u32, len: usize) -> *mut NET_BUFFER_LIST => nbl::alloc_nb_and_nbl;
        fn NdisFreeNetBufferList(n: *mut NET_BUFFER_LIST) => nbl::free_nbl;
        fn NdisAllocateMdl(h: NDIS_HANDLE, va: *mut c_void, len: u32) -> *mut MDL => driver::alloc_mdl;
        fn NdisFreeMdl(m: *mut MDL) => driver::free_mdl;
        fn NdisAllocateCloneNetBufferList(n: *mut NET_BUFFER_LIST, np: NDIS_HANDLE, bp: NDIS_HANDLE, flags: u32) -> *mut NET_BUFFER_LIST => nbl::alloc_clone;
        fn NdisFreeCloneNetBufferList(n: *mut NET_BUFFER_LIST, flags: u32) => nbl::free_clone;
        fn NdisAllocateNetBufferListContext(n: *mut NET_BUFFER_LIST, s: u16, b: u16, tag: u32) -> NDIS_STATUS => nbl::alloc_context;
        fn NdisFreeNetBufferListContext(n: *mut NET_BUFFER_LIST, s: u16) => nbl::free_context;
        fn NdisCopySendNetBufferListInfo(d: *mut NET_BUFFER_LIST, s: *mut NET_BUFFER_LIST) => nbl::copy_send_info;
        fn NdisCopyReceiveNetBufferListInfo(d: *mut NET_BUFFER_LIST, s: *mut NET_BUFFER_LIST) => nbl::copy_receive_info;
        fn NdisRetreatNetBufferDataStart(nb: *mut NET_BUFFER, d: u32, b: u32, f: *mut c_void) -> NDIS_STATUS => nbl::retreat;
        fn NdisAdvanceNetBufferDataStart(nb: *mut NET_BUFFER, d: u32, fm: BOOLEAN, f: *mut c_void) => nbl::advance;
        fn NdisGetDataBuffer(nb: *mut NET_BUFFER, n: u32, s: *mut c_void, am: u32, ao: u32) -> *mut c_void => nbl::get_data_buffer;
        fn NdisGetPoolFromNetBufferList(n: *mut NET_BUFFER_LIST) -> NDIS_HANDLE => nbl::get_pool;
        fn NdisOpenConfigurationEx(o: *mut NDIS_CONFIGURATION_OBJECT, out: *mut NDIS_HANDLE) -> NDIS_STATUS => config::open;
        fn NdisReadConfiguration(s: *mut NDIS_STATUS, v: *mut *mut NDIS_CONFIGURATION_PARAMETER, h: NDIS_HANDLE, k: *mut UNICODE_STRING, t: NDIS_PARAMETER_TYPE) => config::read;
        fn NdisCloseConfiguration(h: NDIS_HANDLE) => config::close;
    }
}
