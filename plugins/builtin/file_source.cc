#include "file_source.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace sluice::builtin {

FileSource::FileSource(const CreateArgs& args) {
  Config c(args.config_json);
  const std::string path =
      resolve_config_path(args, c.required_string("path", "the file to read")).string();
  LineFormat format = read_line_format(c);
  // A job reads what is there and ends; a streaming flow keeps reading what is appended.
  const bool follow = c.boolean("follow", args.streaming());
  c.reject_unknown_keys();
  require_one_worker(args, "every worker would read the whole file");

  fd_ = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd_) {
    throw c.error("path", errno == ENOENT
                              ? "\"" + path + "\" does not exist"
                              : "cannot open \"" + path + "\": " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd_.get(), &st) == 0 && S_ISDIR(st.st_mode))
    throw c.error("path", "\"" + path + "\" is a directory, not a file");
  lines_ = std::make_unique<LineSource>(fd_.get(), path, std::move(format), follow);
}

}  // namespace sluice::builtin
