// C++ fixture types written with <sluice/plugin.hpp>, for the host's tests.
//   cpp-throw (map):      passes values through; "boom" throws std::runtime_error,
//                         "int" throws a non-std exception, "fatal" throws FatalError,
//                         "fail" fails that one message; config {"reject": true}
//                         throws ConfigError from the constructor.
//   cpp-ack-source:       emits "m0".."m2" (ids "offset-0".."offset-2") then END; logs
//                         "acked <id>" (as a warning)
//                         for each acknowledged message and, on its next process
//                         call, emits "acked:<id>" for each.
//   cpp-misbehave (map):  emits to an input index out of range (the host refuses).
//   cpp-finish (map):     buffers values and emits them joined by "+" in finish().
//   cpp-status (map):     returns the status its first message names (e.g. "7").
//   cpp-drop-source:      emits m0..m3 (ids id0..id3) dropping the odd ones; logs acks.
#include <sluice/plugin.hpp>

#include <string>
#include <vector>

namespace {

class Throwing {
 public:
  explicit Throwing(const sluice::CreateArgs& args) {
    if (args.config_json.find("\"reject\"") != std::string_view::npos)
      throw sluice::ConfigError("config.reject: this stage was told to reject its config");
  }
  void process(sluice::Context& ctx, const sluice::Batch& batch) {
    for (size_t i = 0; i < batch.size(); ++i) {
      std::string_view v = batch[i].value();
      if (v == "boom") throw std::runtime_error("boom at message " + std::string(batch[i].id()));
      if (v == "int") throw 7;
      if (v == "fatal") throw sluice::FatalError("cannot go on");
      if (v == "config") throw sluice::ConfigError("a ConfigError after create");
      if (v == "fail") {
        ctx.fail(i, "refused this one");
        continue;
      }
      ctx.emit(i, sluice::Output(v).tag("seen"));
    }
  }
};

class AckSource {
 public:
  explicit AckSource(const sluice::CreateArgs&) {}
  sluice_status process(sluice::Context& ctx, const sluice::Batch& batch) {
    for (const std::string& id : acked_) ctx.emit("acked:" + id);
    acked_.clear();
    for (; next_ < 3 && batch.max_messages() > 0; ++next_) {
      const std::string n = std::to_string(next_);
      ctx.emit(sluice::Output("m" + n).id("offset-" + n));
    }
    return next_ >= 3 ? SLUICE_END : SLUICE_OK;
  }
  void ack(sluice::Context& ctx, const sluice::Batch& batch) {
    for (size_t i = 0; i < batch.size(); ++i) {
      acked_.emplace_back(batch[i].id());
      ctx.log(SLUICE_LOG_WARN, "acked " + std::string(batch[i].id()));
    }
  }

 private:
  int next_ = 0;
  std::vector<std::string> acked_;
};

class Misbehave {
 public:
  explicit Misbehave(const sluice::CreateArgs&) {}
  void process(sluice::Context& ctx, const sluice::Batch& batch) {
    ctx.emit(batch.size() + 100, "nowhere");
  }
};

class Finisher {
 public:
  explicit Finisher(const sluice::CreateArgs&) {}
  void process(sluice::Context&, const sluice::Batch& batch) {
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!joined_.empty()) joined_ += '+';
      joined_ += batch[i].value();
    }
  }
  void finish(sluice::Context& ctx) {
    sluice::Output out(joined_);
    out.keys({"all"});
    ctx.emit(SLUICE_NO_INPUT, out);
  }

 private:
  std::string joined_;
};

// Returns the status named by its first message's value ("7", "-2", ...).
class StatusEcho {
 public:
  explicit StatusEcho(const sluice::CreateArgs&) {}
  sluice_status process(sluice::Context&, const sluice::Batch& batch) {
    return static_cast<sluice_status>(std::stoi(std::string(batch[0].value())));
  }
};

// Emits m0..m3 (ids id0..id3), dropping the odd ones, then END; logs each ack.
class DropSource {
 public:
  explicit DropSource(const sluice::CreateArgs&) {}
  sluice_status process(sluice::Context& ctx, const sluice::Batch&) {
    for (int n = 0; n < 4; ++n) {
      sluice::Output out("m" + std::to_string(n));
      out.id("id" + std::to_string(n));
      if (n % 2) out.drop();
      ctx.emit(out);
    }
    return SLUICE_END;
  }
  void ack(sluice::Context& ctx, const sluice::Batch& batch) {
    for (size_t i = 0; i < batch.size(); ++i)
      ctx.log(SLUICE_LOG_WARN, "acked " + std::string(batch[i].id()));
  }
};

}  // namespace

SLUICE_PLUGIN("cpp-example", lib) {
  lib.add<Throwing>({"cpp-throw", SLUICE_KIND_MAP, "1.0.0", "throws on request"});
  lib.add<AckSource>({"cpp-ack-source", SLUICE_KIND_SOURCE, "1.0.0", "acknowledging source"});
  lib.add<Misbehave>({"cpp-misbehave", SLUICE_KIND_MAP, "1.0.0", "emits out of range"});
  lib.add<Finisher>({"cpp-finish", SLUICE_KIND_MAP, "1.0.0", "emits in finish"});
  lib.add<StatusEcho>({"cpp-status", SLUICE_KIND_MAP, "1.0.0", "returns a chosen status"});
  lib.add<DropSource>({"cpp-drop-source", SLUICE_KIND_SOURCE, "1.0.0", "drops odd messages"});
}
