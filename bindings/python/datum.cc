#include "datum.h"

#include <unordered_map>

#include "types.h"

namespace sluice::python {

py::object make_datum(const sluice::Message& m, std::string id, py::object* keys) {
  Datum d;
  d.keys = py::list(m.key_count());
  for (size_t k = 0; k < m.key_count(); ++k) d.keys[k] = text(m.key(k));
  const std::string_view value = m.value();
  d.value = py::bytes(value.data(), value.size());
  d.event_time = m.event_time();
  d.watermark = m.watermark();
  for (size_t h = 0; h < m.header_count(); ++h)
    d.headers.emplace_back(detail::view(m.header_at(h).key), detail::view(m.header_at(h).value));
  d.id = std::move(id);
  for (size_t t = 0; t < m.tag_count(); ++t) d.tags.emplace_back(m.tag(t));
  if (keys != nullptr) *keys = d.keys;
  return py::cast(std::move(d));
}

std::vector<std::string> batch_ids(const Batch& batch) {
  std::vector<std::string> ids;
  ids.reserve(batch.size());
  std::unordered_map<std::string_view, int> seen;
  for (size_t i = 0; i < batch.size(); ++i) {
    const std::string_view id = batch[i].id();
    const int n = ++seen[id];
    ids.push_back(n == 1 ? std::string(id) : std::string(id) + "#" + std::to_string(n));
  }
  return ids;
}

}  // namespace sluice::python
