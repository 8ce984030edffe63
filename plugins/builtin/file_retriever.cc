#include "file_retriever.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config.h"

namespace sluice::builtin {

FileRetriever::FileRetriever(const CreateArgs& args) {
  Config c(args.config_json);
  path_ = resolve_config_path(args, c.required_string("path", "the file whose content is the value")).string();
  c.reject_unknown_keys();
}

sluice_status FileRetriever::process(Context& ctx) {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    ctx.log(SLUICE_LOG_DEBUG, "cannot stat " + path_);
    throw std::runtime_error("cannot read \"" + path_ + "\": " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) throw std::runtime_error("\"" + path_ + "\" is a directory, not a file");
  if (read_once_ && st.st_dev == dev_ && st.st_ino == ino_ && st.st_size == size_ &&
      st.st_mtim.tv_sec == mtime_.tv_sec && st.st_mtim.tv_nsec == mtime_.tv_nsec)
    return SLUICE_OK;  // no change
  std::ifstream in(path_, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open \"" + path_ + "\": " + std::strerror(errno));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw std::runtime_error("reading \"" + path_ + "\" failed");
  // The identity is the stat() from before the read: a write during the read changes
  // the mtime, so the next firing reads the file again.
  read_once_ = true;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  size_ = st.st_size;
  mtime_ = st.st_mtim;
  ctx.emit(bytes.str());
  return SLUICE_OK;
}

}  // namespace sluice::builtin
