include!("nfs-storage-benchmark.rs");
