// The `reverse` map: reverses each message's value and appends an optional suffix.
//
//   stages:
//     - name: backwards
//       map: reverse
//       config: {suffix: "!"}
//
// Everything a plugin needs is in <sluice/plugin.hpp>: a class with a constructor that
// reads the config and a process() that emits outputs, plus SLUICE_PLUGIN to register
// it. Exceptions are caught at the boundary and reported with the stage's name.
#include <sluice/plugin.hpp>

#include <nlohmann/json.hpp>
#include <string>

namespace {

class Reverse {
 public:
  explicit Reverse(const sluice::CreateArgs& args) {
    auto config = nlohmann::json::parse(args.config_json);
    for (const auto& [key, value] : config.items()) {
      if (key != "suffix") throw sluice::ConfigError("config." + key + ": unknown key");
      if (!value.is_string()) throw sluice::ConfigError("config.suffix: expected a string");
      suffix_ = value.get<std::string>();
    }
  }

  // One output per input; keys, event time and headers are inherited from the input.
  void process(sluice::Context& ctx, const sluice::Batch& batch) {
    for (size_t i = 0; i < batch.size(); ++i) {
      std::string_view in = batch[i].value();
      buffer_.assign(in.rbegin(), in.rend());
      buffer_ += suffix_;
      ctx.emit(i, buffer_);
    }
  }

 private:
  std::string suffix_;
  std::string buffer_;  // reused across messages: no allocation once warm
};

// The JSON Schema of the config, shown by `sluice plugins --json`.
constexpr const char* kSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {"suffix": {"type": "string"}}
})";

}  // namespace

SLUICE_PLUGIN("my-plugins", lib) {
  lib.add<Reverse>({"reverse", SLUICE_KIND_MAP, "1.0.0",
                    "reverses each value and appends config.suffix", kSchema});
}
