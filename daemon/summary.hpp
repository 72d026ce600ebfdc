#pragma once
// The one-line counter summary printed at exit: proof, at a glance, that nothing was lost.

#include <string>

#include "daemon/export/fan_out.hpp"
#include "daemon/ingest/ingest_counters.hpp"
#include "daemon/pipeline.hpp"

namespace tracecol::daemon {

std::string exit_summary(const ingest::IngestCounters& ingest, Pipeline& pipeline,
                         const exporters::FanOut& fan_out);

}  // namespace tracecol::daemon
