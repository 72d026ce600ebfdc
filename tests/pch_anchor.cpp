// The source of tracecol_test_pch, the target whose precompiled header every test target
// reuses (tests/CMakeLists.txt); it has nothing of its own to compile.
