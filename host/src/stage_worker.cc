#include "stage_worker.h"

#include <algorithm>
#include <cmath>

#include "sluice/host/log.h"

namespace sluice::host {

namespace {
int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

StageWorker::StageWorker(FlowRuntime::State& flow, StageRuntime& stage, uint32_t worker_index)
    : flow_(flow),
      stage_(stage),
      plan_(*stage.plan),
      worker_index_(worker_index),
      inbox_(stage.plan->kind == SLUICE_KIND_SOURCE && stage.plan->type.type->ack != nullptr
                 ? std::make_unique<AckInbox>()
                 : nullptr),
      emitter_(flow, stage, worker_index, inbox_.get()),
      ctx_(stage.plan->kind, stage.plan->name, &emitter_) {
  // Registered before any thread starts, so no queue can see "all producers done"
  // while a producer is still starting up.
  emitter_.register_producer();
}

StageWorker::~StageWorker() = default;

void StageWorker::interrupt() {
  if (inbox_) inbox_->interrupt();
}

bool StageWorker::create_instance() {
  if (stage_.shared_instance) {
    instance_ = stage_.shared_instance.get();
    return true;
  }
  InstanceSpec spec;
  spec.kind = plan_.kind;
  spec.stage_name = plan_.name;
  spec.config_json = plan_.config_json;
  spec.flow_dir = flow_.plan.dir.string();
  spec.worker_index = worker_index_;
  spec.worker_count = plan_.threads;
  spec.flow_mode = flow_.plan.mode == FlowMode::kStreaming ? SLUICE_FLOW_STREAMING : SLUICE_FLOW_JOB;
  sluice_status status = SLUICE_OK;
  std::string error;
  own_ = PluginInstance::create(plan_.type, spec, &ctx_, &status, &error);
  if (!own_) {
    flow_.fail(plan_.name, error, status == SLUICE_ERROR_CONFIG);
    return false;
  }
  instance_ = own_.get();
  return true;
}

bool StageWorker::wait_for_go() {
  std::unique_lock<std::mutex> lock(flow_.mutex);
  ++flow_.created;
  flow_.changed.notify_all();
  flow_.changed.wait(lock, [&] { return flow_.go || flow_.failed; });
  return flow_.go && !flow_.failed;
}

void StageWorker::run() {
  const bool created = create_instance();
  if (!created) {
    std::lock_guard<std::mutex> lock(flow_.mutex);
    ++flow_.created;
    flow_.changed.notify_all();
  }
  if (created && wait_for_go() && wait_for_side_inputs()) {
    if (plan_.kind == SLUICE_KIND_SOURCE)
      run_source();
    else
      run_processor();
    finish_and_close();
  } else {
    emitter_.producers_done();
    own_.reset();
  }
  std::lock_guard<std::mutex> lock(flow_.mutex);
  --flow_.running;
  flow_.changed.notify_all();
}

bool StageWorker::wait_for_side_inputs() {
  if (plan_.side_inputs.empty()) return true;
  const SideInputRegistry* registry = flow_.side_inputs;
  if (registry == nullptr) {
    flow_.fail(plan_.name, "the stage reads side inputs but the flow runs without them "
                           "(FlowRuntime::set_side_inputs was not called)");
    return false;
  }
  const auto deadline = Clock::now() + flow_.plan.side_inputs_timeout;
  // Only a forced stop (or a failure) ends the wait early. A graceful stop does not:
  // upstream stages drain into this stage's queue, and a worker that quit here would
  // drop what they send while the flow reported success. The grace period bounds it.
  std::vector<std::string> missing =
      registry->wait_for(plan_.side_inputs, deadline, [&] { return flow_.forced.load(); });
  if (flow_.forced.load()) return false;
  if (!missing.empty()) {
    std::string why = "side input '" + missing[0] + "' has no value after " +
                      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         flow_.plan.side_inputs_timeout).count()) +
                      " ms (sideInputsTimeout); ";
    const std::string last = registry->last_error(missing[0]);
    why += last.empty() ? "its retriever has not answered yet" : "its retriever's last error: " + last;
    if (missing.size() > 1) why += " (also waiting for " + std::to_string(missing.size() - 1) + " more)";
    flow_.fail(plan_.name, why);
    return false;
  }
  side_inputs_ = std::make_unique<SideInputSnapshot>(*registry, plan_.side_inputs);
  ctx_.side_inputs = side_inputs_.get();
  refresh_side_inputs();  // the initial values, announced before the first call
  return true;
}

void StageWorker::announce_side_inputs() {
  if (instance_->wants_side_input_changes()) {
    for (const SideInputValue* v : changed_side_inputs_) {
      const sluice_status s = instance_->side_input_changed(&ctx_, v->name, v->version);
      if (s != SLUICE_OK)
        log(LogLevel::kWarn, plan_.name,
            "side_input_changed for '" + v->name + "' version " + std::to_string(v->version) +
                " failed (the stage goes on with the new value): " + ctx_.error);
    }
  }
  changed_side_inputs_.clear();
}

// ---------------------------------------------------------------------------------
// Sources

void StageWorker::run_source() {
  sluice_batch request{};
  request.struct_size = sizeof(request);
  request.max_messages = plan_.batch;
  request.budget_us = std::max<int64_t>(plan_.linger.count(), 1000);
  request.watermark = SLUICE_TIME_UNSET;
  request.window_start = request.window_end = SLUICE_TIME_UNSET;

  // IDLE backoff: 50us doubling to 1ms. The cap bounds how long data that arrives at
  // an idle source waits to be read; 1000 wakeups a second cost next to nothing.
  const std::chrono::microseconds kIdleMin(50), kIdleMax(1'000);
  std::chrono::microseconds idle(0);
  uint32_t attempt = 0;
  // A source feeding a reduce keeps its watermark (docs/reduce.md) and sends it with its
  // batches, and alone (at most every 50 ms) while it has nothing to send.
  std::optional<SourceWatermark> watermark;
  if (plan_.feeds_reduce)
    watermark.emplace(plan_.watermark.max_delay_ms, plan_.watermark.idle_timeout_ms, wall_ms());
  Clock::time_point next_watermark_push{};
  while (!flow_.stop_requested.load(std::memory_order_relaxed) &&
         !flow_.forced.load(std::memory_order_relaxed)) {
    acknowledge();
    refresh_side_inputs();
    emitter_.begin_call(nullptr, nullptr, 0);
    const Clock::time_point t0 = Clock::now();
    const sluice_status status = instance_->process(&ctx_, request);
    const Clock::time_point t1 = Clock::now();
    stage_.metrics->process_seconds.record(t1 - t0);

    if (status == SLUICE_ERROR_FATAL) {
      emitter_.rollback();
      bump(stage_.metrics->errors);
      flow_.fail(plan_.name, ctx_.error);
      return;
    }
    if (status == SLUICE_ERROR) {
      emitter_.rollback();
      bump(stage_.metrics->errors);
      if (attempt < plan_.on_error.attempts) {
        if (!backoff(attempt++, /*wake_on_stop=*/true)) break;
        continue;
      }
      attempt = 0;
      if (plan_.on_error.action == ErrorAction::kFail) {
        flow_.fail(plan_.name, ctx_.error);
        return;
      }
      drop_log("a failed read was skipped: " + ctx_.error);
      if (!backoff(0, /*wake_on_stop=*/true)) break;
      continue;
    }
    attempt = 0;
    emitter_.commit(nullptr);
    report_pending(t1);
    // Decide by messages produced (before routing): copies over several edges, or none
    // when no edge wanted them, say nothing about whether the source has more.
    const size_t produced = emitter_.produced_in_call();
    if (watermark) {
      if (produced > 0)
        watermark->observe(emitter_.call_max_event_time(), wall_ms());
      else
        watermark->tick(wall_ms());
      emitter_.set_watermark(watermark->watermark());
      if ((status == SLUICE_IDLE || produced == 0) && t1 >= next_watermark_push) {
        next_watermark_push = t1 + std::chrono::milliseconds(50);
        emitter_.flush_all();
        emitter_.push_watermark();
      }
    }
    if (status == SLUICE_END) break;
    if (status == SLUICE_IDLE || produced == 0) {
      // Nothing now: send what we hold, then back off without spinning; acks wake us
      // early.
      emitter_.flush_all();
      idle = idle.count() == 0 ? kIdleMin : std::min(idle * 2, kIdleMax);
      if (inbox_)
        inbox_->wait(Clock::now() + idle);
      else
        flow_.sleep_until(Clock::now() + idle);
    } else if (produced < plan_.batch) {
      // Less than a batch: the source has caught up with its input. Holding these back
      // for a fuller batch would only add latency.
      idle = std::chrono::microseconds(0);
      emitter_.flush_all();
    } else {
      idle = std::chrono::microseconds(0);
      emitter_.flush_due(t1);
    }
  }
  emitter_.flush_all();
  // The end of this source's input, as a watermark past every event time: a reduce
  // downstream closes its windows (or, at a stop, lets them go), so that what it holds
  // is acknowledged (or abandoned) and the wait below ends.
  if (watermark) {
    emitter_.set_watermark(kMaxEventTime);
    emitter_.push_watermark();
  }
  // Wait for the acks of everything this worker emitted (the rest of the flow drains
  // meanwhile; a forced stop interrupts the wait).
  if (inbox_) {
    while (inbox_->outstanding() > 0 && !flow_.forced.load(std::memory_order_relaxed)) {
      inbox_->wait(Clock::now() + std::chrono::milliseconds(100));
      acknowledge();
    }
    acknowledge();
  }
}

void StageWorker::report_pending(Clock::time_point now) {
  if (!instance_->type().pending || now - pending_asked_ < std::chrono::seconds(1)) return;
  pending_asked_ = now;
  const int64_t n = instance_->pending();
  if (n < 0) return;  // does not know this time: keep the last report
  StageMetrics& m = *stage_.metrics;
  if (reported_pending_ < 0) {
    m.pending_reporters.fetch_add(1, std::memory_order_relaxed);
    m.pending.fetch_add(n, std::memory_order_relaxed);
  } else {
    m.pending.fetch_add(n - reported_pending_, std::memory_order_relaxed);
  }
  reported_pending_ = n;
}

void StageWorker::acknowledge() {
  if (!inbox_) return;
  inbox_->take_completed(&acked_);
  if (acked_.empty()) return;
  // Ack in chunks of the stage's batch size; messages carry only their ids.
  std::vector<sluice_message> messages;
  std::vector<const sluice_message*> pointers;
  // Abandoned messages (their reduce windows were let go at a stop) are not acknowledged:
  // a replaying source reads them again.
  size_t kept = 0;
  for (Lineage* l : acked_)
    if (!l->abandoned()) acked_[kept++] = l;
  std::vector<Lineage*> abandoned(acked_.begin() + static_cast<std::ptrdiff_t>(kept), acked_.end());
  acked_.resize(kept);
  if (!abandoned.empty()) inbox_->recycle(abandoned);
  for (size_t begin = 0; begin < acked_.size(); begin += plan_.batch) {
    const size_t end = std::min(acked_.size(), begin + plan_.batch);
    messages.assign(end - begin, sluice_message{});
    pointers.resize(end - begin);
    for (size_t i = begin; i < end; ++i) {
      sluice_message& m = messages[i - begin];
      m.struct_size = sizeof(m);
      std::string_view id = acked_[i]->source_id();
      m.id = {id.data(), id.size()};
      m.event_time = m.watermark = SLUICE_TIME_UNSET;
      pointers[i - begin] = &m;
    }
    sluice_batch b{};
    b.struct_size = sizeof(b);
    b.messages = pointers.data();
    b.count = pointers.size();
    b.watermark = b.window_start = b.window_end = SLUICE_TIME_UNSET;
    const sluice_status s = instance_->ack(&ctx_, b);
    if (s != SLUICE_OK)
      log(LogLevel::kWarn, plan_.name,
          "ack of " + std::to_string(b.count) + " messages failed: " + ctx_.error);
    bump(stage_.metrics->acked, b.count);
  }
  inbox_->recycle(acked_);
  acked_.clear();
}

// ---------------------------------------------------------------------------------
// Maps and sinks

int64_t StageWorker::input_watermark(const MessageBatch& batch) {
  if (!input_watermarks_) {
    // One input per upstream stage, however many edges come from it.
    watermark_input_of_.assign(flow_.stages.size(), -1);
    size_t inputs = 0;
    for (int e : plan_.in_edges) {
      const int from = flow_.plan.edges[static_cast<size_t>(e)].from;
      if (from >= 0 && watermark_input_of_[static_cast<size_t>(from)] < 0)
        watermark_input_of_[static_cast<size_t>(from)] = static_cast<int>(inputs++);
    }
    input_watermarks_ = std::make_unique<InputWatermarks>(std::max<size_t>(inputs, 1));
  }
  const int origin = batch.origin();
  if (batch.watermark() != SLUICE_TIME_UNSET && origin >= 0 &&
      static_cast<size_t>(origin) < watermark_input_of_.size() && watermark_input_of_[static_cast<size_t>(origin)] >= 0)
    return input_watermarks_->update(static_cast<size_t>(watermark_input_of_[static_cast<size_t>(origin)]),
                                     batch.watermark());
  return input_watermarks_->watermark();
}

void StageWorker::end_reduce() {
  if (!reducer_ || flow_.forced.load()) return;
  // The input ended (a job's sources read everything): every window is complete. The
  // flow was stopped (SIGTERM): by default its windows are not (more input would have
  // come), so they are let go unless the flow was told to flush them.
  const bool stopping = flow_.stop_requested.load();
  if (stopping && !flow_.plan.flush_windows_on_stop)
    reducer_->discard_all();
  else
    reducer_->close_all();
  emitter_.flush_all();
}

void StageWorker::run_processor() {
  BatchQueue& lane = *stage_.lanes[stage_.lanes.size() == 1 ? 0 : worker_index_];
  const bool tracks_watermarks = plan_.feeds_reduce || plan_.kind == SLUICE_KIND_REDUCE;
  if (plan_.kind == SLUICE_KIND_REDUCE) reducer_ = std::make_unique<ReduceRunner>(flow_, stage_, *instance_, ctx_, emitter_);
  while (!flow_.forced.load(std::memory_order_relaxed)) {
    std::unique_ptr<MessageBatch> batch = lane.try_pop();
    if (!batch) {
      // Nothing waiting: do not hold outputs back (this is what keeps latency low at
      // light load), then block until there is input or the input ends.
      emitter_.flush_all();
      batch = lane.pop();
      if (!batch) break;
    }
    const size_t n = batch->size();
    if (tracks_watermarks) {
      const int64_t watermark = input_watermark(*batch);
      if (reducer_) {
        bump(stage_.metrics->in, n);
        refresh_side_inputs();
        // Every input ended (kMaxEventTime): close or let go of the windows now, not when
        // the queue closes (the sources wait for acks before they close it).
        const bool ended = watermark >= kMaxEventTime;
        const bool ok = reducer_->on_batch(*batch, ended ? SLUICE_TIME_UNSET : watermark);
        flow_.pool.put(std::move(batch));
        if (!ok) {
          reducer_->release_after_failure();
          return;
        }
        if (ended) end_reduce();
        emitter_.set_watermark(watermark);
        emitter_.flush_due(Clock::now());
        emitter_.push_watermark();
        continue;
      }
      if (n == 0) {  // a watermark alone: pass it on
        flow_.pool.put(std::move(batch));
        emitter_.set_watermark(watermark);
        emitter_.push_watermark();
        continue;
      }
      // Set after this batch's outputs are appended (below): they are what it covers.
      pending_watermark_ = watermark;
    }
    bump(stage_.metrics->in, n);
    stage_.metrics->in_progress.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed);
    // Once per batch (one atomic load when nothing changed): a new side-input value is
    // seen from the next batch on, never in the middle of one.
    refresh_side_inputs();
    if (n <= plan_.batch) {
      process_batch(*batch, {});
    } else {
      // Batches arrive at the size their producer sends; this stage's `batch` is the
      // most messages per call, so a larger one is handed over in parts.
      std::vector<uint32_t> part;
      for (size_t begin = 0; begin < n && !flow_.forced.load(std::memory_order_relaxed);
           begin += plan_.batch) {
        part.clear();
        for (size_t i = begin; i < std::min<size_t>(n, begin + plan_.batch); ++i)
          part.push_back(static_cast<uint32_t>(i));
        process_batch(*batch, part);
        emitter_.flush_due(Clock::now());
      }
    }
    stage_.metrics->in_progress.fetch_sub(static_cast<int64_t>(n), std::memory_order_relaxed);
    flow_.pool.put(std::move(batch));
    if (tracks_watermarks) emitter_.set_watermark(pending_watermark_);
    emitter_.flush_due(Clock::now());
    if (tracks_watermarks) emitter_.push_watermark();
  }
  if (!flow_.forced.load()) end_reduce();
}

sluice_status StageWorker::call(MessageBatch& batch, const std::vector<uint32_t>& indexes) {
  const sluice_message* const* view = batch.view();
  sluice_batch b{};
  b.struct_size = sizeof(b);
  b.watermark = batch.watermark();
  b.window_start = b.window_end = SLUICE_TIME_UNSET;
  if (indexes.empty()) {
    b.messages = view;
    b.count = batch.size();
    emitter_.begin_call(&batch, nullptr, b.count);
  } else {
    subset_.resize(indexes.size());
    for (size_t i = 0; i < indexes.size(); ++i) subset_[i] = view[indexes[i]];
    b.messages = subset_.data();
    b.count = subset_.size();
    emitter_.begin_call(&batch, indexes.data(), b.count);
  }
  if (flow_.observer != nullptr) {
    // The request's path: this stage had these messages from call to return.
    const auto wall0 = std::chrono::system_clock::now();
    const Clock::time_point t0 = Clock::now();
    const sluice_status s = instance_->process(&ctx_, b);
    const Clock::time_point t1 = Clock::now();
    stage_.metrics->process_seconds.record(t1 - t0);
    step_ids_.resize(b.count);
    for (size_t i = 0; i < b.count; ++i) step_ids_[i] = emitter_.input_id(i);
    flow_.observer->on_step(plan_.name, step_ids_.data(), b.count, wall0,
                            wall0 + std::chrono::duration_cast<std::chrono::system_clock::duration>(t1 - t0));
    return s;
  }
  const Clock::time_point t0 = Clock::now();
  const sluice_status s = instance_->process(&ctx_, b);
  stage_.metrics->process_seconds.record(Clock::now() - t0);
  return s;
}

void StageWorker::process_batch(MessageBatch& batch, std::vector<uint32_t> indexes) {
  const bool sink = plan_.kind == SLUICE_KIND_SINK;
  std::vector<uint8_t> failed;
  std::vector<uint32_t> retry, give;
  uint32_t attempt = 0;
  for (;;) {
    const size_t count = indexes.empty() ? batch.size() : indexes.size();
    auto batch_index = [&](size_t i) { return indexes.empty() ? static_cast<uint32_t>(i) : indexes[i]; };
    const sluice_status status = call(batch, indexes);
    if (status == SLUICE_ERROR_FATAL) {
      emitter_.rollback();
      bump(stage_.metrics->errors);
      flow_.fail(plan_.name, ctx_.error);
      return;
    }
    if (status != SLUICE_OK) {
      emitter_.rollback();
      bump(stage_.metrics->errors);
      // A forced stop abandons the batch: nothing failed, the flow is just not waiting.
      if (flow_.forced.load(std::memory_order_relaxed)) return;
      if (attempt < plan_.on_error.attempts) {
        bump(stage_.metrics->retried, count);
        if (!backoff(attempt++)) return;
        continue;
      }
      if (indexes.empty()) {
        indexes.resize(batch.size());
        for (size_t i = 0; i < indexes.size(); ++i) indexes[i] = static_cast<uint32_t>(i);
      }
      give_up(batch, indexes, ctx_.error);
      return;
    }

    // The call succeeded; some messages may have failed on their own.
    failed.assign(count, 0);
    retry.clear();
    give.clear();
    std::string reason;
    for (size_t i = 0; i < count; ++i) {
      const sluice_outcome o = emitter_.outcome(i);
      if (o == SLUICE_OUTCOME_OK) continue;
      failed[i] = 1;
      if (reason.empty()) reason = emitter_.reason(i);
      // A map's failed message and a sink's RETRY are retried; a sink's FAILED is
      // permanent (straight to the final action).
      if (sink && o == SLUICE_OUTCOME_FAILED)
        give.push_back(batch_index(i));
      else
        retry.push_back(batch_index(i));
    }
    // An ordered map keeps order through retries: the inputs after the first failed
    // one wait for it (their outputs are discarded now and made again on the retry),
    // unless this was the last attempt. A sink cannot take back what it wrote, so a
    // sink's retried messages come after the rest of its batch (documented).
    if (plan_.ordered && !sink && !retry.empty() && attempt < plan_.on_error.attempts &&
        !flow_.forced.load(std::memory_order_relaxed)) {
      size_t first = count;
      for (size_t i = 0; i < count && first == count; ++i)
        if (failed[i]) first = i;
      retry.clear();
      for (size_t i = first; i < count; ++i) {
        failed[i] = 1;
        retry.push_back(batch_index(i));
      }
    }
    emitter_.commit(retry.empty() && give.empty() ? nullptr : &failed);
    if (sink) {
      for (size_t i = 0; i < count; ++i)
        if (!failed[i])
          if (Lineage* l = batch.lineage(batch_index(i))) l->adjust(-1);
    }
    if (!give.empty())
      give_up(batch, give, reason.empty() ? "the sink reported the message failed" : reason);
    if (retry.empty()) return;
    if (reason.empty()) reason = sink ? "the sink asked for a retry" : "the map failed the message";
    if (flow_.forced.load(std::memory_order_relaxed)) return;  // abandoned, not failed
    if (attempt < plan_.on_error.attempts) {
      bump(stage_.metrics->retried, retry.size());
      if (!backoff(attempt++)) return;
      indexes = retry;
      continue;
    }
    give_up(batch, retry, reason);
    return;
  }
}

void StageWorker::give_up(MessageBatch& batch, const std::vector<uint32_t>& indexes,
                          const std::string& reason) {
  bump(stage_.metrics->failed, indexes.size());
  if (flow_.observer != nullptr)
    for (uint32_t i : indexes) flow_.observer->on_failure(batch.id(i), plan_.name, reason);
  switch (plan_.on_error.action) {
    case ErrorAction::kFail: {
      std::string what = reason.empty() ? std::string("process failed") : reason;
      if (!indexes.empty())
        what = "message " + std::string(batch.id(indexes[0])) +
               (indexes.size() > 1 ? " (and " + std::to_string(indexes.size() - 1) + " more)" : "") +
               ": " + what;
      flow_.fail(plan_.name, what);
      return;
    }
    case ErrorAction::kDrop:
      for (uint32_t i : indexes)
        if (Lineage* l = batch.lineage(i)) {
          l->mark_failed();
          l->adjust(-1);
        }
      bump(stage_.metrics->dropped, indexes.size());
      drops_since_log_ += indexes.size();
      drop_log(reason);
      return;
    case ErrorAction::kFallback:
      for (uint32_t i : indexes) {
        if (Lineage* l = batch.lineage(i)) l->mark_failed();
        emitter_.route_to_fallback(batch, i);  // the lineage moves with the copy
      }
      log(LogLevel::kDebug, plan_.name,
          std::to_string(indexes.size()) + " messages sent to the fallback sink: " + reason);
      return;
  }
}

void StageWorker::drop_log(const std::string& message) {
  // At most one line a second, with the count since the last line.
  const Clock::time_point now = Clock::now();
  if (now < next_drop_log_) return;
  next_drop_log_ = now + std::chrono::seconds(1);
  log(LogLevel::kWarn, plan_.name,
      (drops_since_log_ ? "dropped " + std::to_string(drops_since_log_) + " messages after errors; last error: "
                        : std::string()) +
          message);
  drops_since_log_ = 0;
}

bool StageWorker::backoff(uint32_t attempt, bool wake_on_stop) {
  const ErrorPolicyPlan& p = plan_.on_error;
  double us = static_cast<double>(p.initial_interval.count()) * std::pow(p.factor, attempt);
  us = std::min(us, static_cast<double>(p.cap.count()));
  return flow_.sleep_until(Clock::now() + std::chrono::microseconds(static_cast<int64_t>(us)),
                          wake_on_stop);
}

// ---------------------------------------------------------------------------------

void StageWorker::finish_and_close() {
  PluginInstance* to_finish = nullptr;
  if (own_)
    to_finish = own_.get();
  else if (stage_.workers_left.fetch_sub(1) == 1)
    to_finish = stage_.shared_instance.get();  // the last worker of a shared instance
  if (to_finish != nullptr) {
    emitter_.begin_call(nullptr, nullptr, 0, /*finishing=*/true);
    const sluice_status s = to_finish->finish(&ctx_);
    if (s == SLUICE_OK) {
      emitter_.commit(nullptr);
    } else {
      emitter_.rollback();
      flow_.fail(plan_.name, "finish: " + ctx_.error);
    }
  }
  emitter_.flush_all();
  emitter_.producers_done();
  own_.reset();  // destroy() on the thread that created it
}

}  // namespace sluice::host
