{
  "targets": [
    {
      "target_name": "caskdb_mmap",
      "sources": ["caskdb_mmap.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
