#pragma once
// Transparent huge pages under malloc. On the 2-core VMs we measure on, a quarter to a half
// of ingest's CPU was first-touch page faults as the store grows (one fault per 4 KiB, about
// six spans); with glibc's malloc asking for huge pages, store-only ingest went from 4.2 to
// 1.6 us of CPU per span (bench/otlp_export, 2026-12-06). glibc only reads its tunables at
// startup, so the daemon sets the tunable and re-executes itself before anything else.

namespace tracecol::daemon {

/**
 * When the kernel gives huge pages only to memory that asks (THP "madvise", Debian's
 * default) and GLIBC_TUNABLES says nothing of glibc.malloc.hugetlb, re-executes this
 * program with glibc.malloc.hugetlb=1 added, the same arguments and the same pid. Returns
 * when it does not (THP "always" or "never", the operator's own setting, a sanitizer
 * build, or a failed exec: the daemon then runs as before). First thing in main, before
 * any thread starts. GLIBC_TUNABLES=glibc.malloc.hugetlb=0 opts out.
 */
void reexec_with_hugepage_malloc(char** argv);

/** What the startup log says of it: "huge pages", "4 KiB pages" or the operator's setting. */
const char* malloc_pages_description();

}  // namespace tracecol::daemon
