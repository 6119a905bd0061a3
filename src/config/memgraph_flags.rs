//! Memgraph's flag names, and what each means to boltd: the setting it sets, or nothing.
//!
//! The names are facts taken from Memgraph's sources: every `DEFINE_*` flag of the `memgraph`
//! binary from 2.0 to 3.12 (flags dropped along the way included, so that an old memgraph.conf
//! still starts boltd), and the four its build of gflags defines (`flag_file`, `help`,
//! `help_xml`, `version`). Tool binaries' flags (mg_import_csv) are not Memgraph's server flags
//! and are not listed. This file owns the list and the mapping only; reading a file is
//! `flag_file.rs`'s job.

/// Every flag Memgraph 2.x and 3.x define, spelled with underscores, sorted (binary search).
pub const MEMGRAPH_FLAGS: &[&str] = &[
    "allow_load_csv",
    "also_log_to_stderr",
    "audit_buffer_flush_interval_ms",
    "audit_buffer_size",
    "audit_enabled",
    "auth_module_create_missing_role",
    "auth_module_create_missing_user",
    "auth_module_executable",
    "auth_module_manage_roles",
    "auth_module_mappings",
    "auth_module_timeout_ms",
    "auth_password_permit_null",
    "auth_password_strength_regex",
    "auth_user_or_role_name_regex",
    "aws_access_key",
    "aws_endpoint_url",
    "aws_region",
    "aws_secret_key",
    "bolt_address",
    "bolt_cert_file",
    "bolt_key_file",
    "bolt_num_workers",
    "bolt_port",
    "bolt_server_name_for_init",
    "bolt_session_inactivity_timeout",
    "ca_bundle_file",
    "cartesian_product_enabled",
    "cluster_ca_file",
    "cluster_cert_file",
    "cluster_key_file",
    "coordinator_hostname",
    "coordinator_id",
    "coordinator_port",
    "coordinator_server_port",
    "data_dir_lock_acquisition_timeout_sec",
    "data_directory",
    "data_recovery_on_startup",
    "debug_query_plans",
    "delta_chain_cache_threshold",
    "experimental_config",
    "experimental_enabled",
    "file_download_conn_timeout_sec",
    "flag_file",
    "h",
    "ha_durability",
    "help",
    "help_xml",
    "hops_limit_partial_results",
    "init_data_file",
    "init_file",
    "instance_down_timeout_sec",
    "instance_get_uuid_frequency_sec",
    "instance_health_check_frequency_sec",
    "isolation_level",
    "kafka_bootstrap_servers",
    "license_key",
    "log_failed_queries",
    "log_file",
    "log_level",
    "log_link_basename",
    "log_min_duration_ms",
    "log_query_plan",
    "log_retention_days",
    "logger_type",
    "management_port",
    "memory_limit",
    "memory_warning_threshold",
    "metrics_address",
    "metrics_format",
    "metrics_port",
    "monitoring_address",
    "monitoring_port",
    "nuraft_log_file",
    "organization_name",
    "password_encryption_algorithm",
    "pulsar_service_url",
    "query_ast_cache_max_size",
    "query_callable_mappings_path",
    "query_cost_planner",
    "query_execution_timeout_sec",
    "query_log_directory",
    "query_max_plans",
    "query_modules_directory",
    "query_plan_cache_max_size",
    "query_plan_cache_ttl",
    "query_vertex_count_to_expand_existing",
    "raft_server_id",
    "raft_server_port",
    "replication_replica_check_frequency_sec",
    "replication_restore_state_on_startup",
    "scheduler",
    "schema_info_enabled",
    "storage_access_timeout_sec",
    "storage_allow_recovery_failure",
    "storage_automatic_edge_type_index_creation_enabled",
    "storage_automatic_label_index_creation_enabled",
    "storage_backup_dir_enabled",
    "storage_delete_on_drop",
    "storage_delta_on_identical_property_update",
    "storage_enable_edges_metadata",
    "storage_enable_schema_metadata",
    "storage_floating_point_resolution_bits",
    "storage_gc_aggressive",
    "storage_gc_cycle_sec",
    "storage_items_per_batch",
    "storage_light_edge",
    "storage_mode",
    "storage_omit_vector_index_properties_on_return",
    "storage_parallel_index_recovery",
    "storage_parallel_schema_recovery",
    "storage_parallel_snapshot_creation",
    "storage_properties_on_edges",
    "storage_property_store_compression_enabled",
    "storage_property_store_compression_level",
    "storage_python_gc_cycle_sec",
    "storage_recover_on_startup",
    "storage_recovery_thread_count",
    "storage_release_recovered_snapshot_page_cache",
    "storage_release_sent_snapshot_page_cache",
    "storage_rocksdb_enable_thread_tracking",
    "storage_rocksdb_info_log_level",
    "storage_rocksdb_keep_log_file_num",
    "storage_snapshot_interval",
    "storage_snapshot_interval_sec",
    "storage_snapshot_on_exit",
    "storage_snapshot_retention_count",
    "storage_snapshot_thread_count",
    "storage_snapshot_writeback_window_mib",
    "storage_wal_enabled",
    "storage_wal_file_flush_every_n_tx",
    "storage_wal_file_size_kib",
    "stream_transaction_conflict_retries",
    "stream_transaction_retry_interval",
    "strict_flag_check",
    "telemetry_enabled",
    "timezone",
    "version",
];

/// Memgraph flags that set a boltd setting of another name; every other Memgraph flag whose
/// name is a boltd key sets that key.
const RENAMED: &[(&str, &str)] = &[("storage_recover_on_startup", "data_recovery_on_startup")];

/// Whether Memgraph (2.x or 3.x) has a flag of this name (underscores).
pub fn is_memgraph_flag(name: &str) -> bool {
    MEMGRAPH_FLAGS.binary_search(&name).is_ok()
}

/// The boltd key a Memgraph flag sets under another name, if it has one.
pub fn renamed(name: &str) -> Option<&'static str> {
    RENAMED
        .iter()
        .find(|(memgraph, _)| *memgraph == name)
        .map(|(_, key)| *key)
}

/// A Memgraph value written in a unit boltd's setting does not take, in boltd's unit; `None`
/// when the flag needs no conversion. `--query-execution-timeout-sec` is a double in Memgraph
/// and whole seconds in boltd: `600.0` is `600`, and a fraction is refused rather than
/// silently rounded, because the timeout it gives would not be the one asked for.
pub fn convert(key: &str, text: &str) -> Option<Result<String, String>> {
    if key != "query_execution_timeout_sec" {
        return None;
    }
    Some(match text.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 && secs.fract() == 0.0 => {
            Ok(format!("{}", secs as u64))
        }
        _ => Err(format!(
            "boltd counts whole seconds (0 disables the timeout), got {text:?}"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_unique_and_spelled_with_underscores() {
        assert!(MEMGRAPH_FLAGS.windows(2).all(|w| w[0] < w[1]));
        assert!(MEMGRAPH_FLAGS.iter().all(|f| f
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')));
        for flag in [
            "bolt_port",
            "telemetry_enabled",
            "storage_properties_on_edges",
            "flag_file",
            "bolt_session_inactivity_timeout",
            "query_plan_cache_ttl",
        ] {
            assert!(is_memgraph_flag(flag), "{flag}");
        }
        // mg_import_csv's flags are not the server's.
        assert!(!is_memgraph_flag("nodes"));
        assert!(!is_memgraph_flag("bolt_prot"));
    }

    #[test]
    fn every_rename_names_a_boltd_key() {
        let keys = crate::config::Config::keys();
        for (memgraph, key) in RENAMED {
            assert!(is_memgraph_flag(memgraph), "{memgraph}");
            assert!(keys.iter().any(|k| k == key), "{key}");
        }
    }

    #[test]
    fn query_timeouts_in_whole_seconds_only() {
        let secs = |t: &str| convert("query_execution_timeout_sec", t).unwrap();
        assert_eq!(secs("600").unwrap(), "600");
        assert_eq!(secs("600.000000").unwrap(), "600");
        assert_eq!(secs("0").unwrap(), "0");
        assert!(secs("0.5").unwrap_err().contains("whole seconds"));
        assert!(secs("-1").is_err());
        assert!(secs("ten").is_err());
        assert!(convert("bolt_port", "7687").is_none());
    }
}
