{
  "targets": [
    {
      "target_name": "atlas_io",
      "sources": ["atlas_io.c", "xxh3.c", "crc32.c"],
      "cflags": ["-Wall", "-Wextra", "-O3"],
      "xcode_settings": { "MACOSX_DEPLOYMENT_TARGET": "11.0", "OTHER_CFLAGS": ["-Wall", "-Wextra"] }
    }
  ]
}
