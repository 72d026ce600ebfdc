// doctest's main(), compiled once (the tracecol_doctest_main library) and linked into
// every test executable: each copy cost 5 s to compile, 11 s under ASan.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
