// Runs the fuzz harness over files (a corpus directory or single inputs)
// without libFuzzer, so every build -- GCC, ASan, valgrind -- replays the
// corpus and the crash reproducers kept in it.
#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay(const std::string &path) {
  FILE *f = fopen(path.c_str(), "rb");
  if (f == nullptr) {
    perror(path.c_str());
    return 1;
  }
  std::vector<uint8_t> buf;
  int c;
  while ((c = fgetc(f)) != EOF) buf.push_back((uint8_t)c);
  fclose(f);
  LLVMFuzzerTestOneInput(buf.data(), buf.size());
  return 0;
}

int main(int argc, char **argv) {
  int n = 0, bad = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      perror(argv[i]);
      bad++;
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      DIR *d = opendir(argv[i]);
      while (struct dirent *e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        bad += replay(std::string(argv[i]) + "/" + e->d_name);
        n++;
      }
      closedir(d);
    } else {
      bad += replay(argv[i]);
      n++;
    }
  }
  printf("fuzz-replay: %d inputs replayed, %d unreadable\n", n, bad);
  return bad == 0 && n > 0 ? 0 : 1;
}
