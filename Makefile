# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# xfertrace build. Output goes to build/; quiet unless V=1.
.DELETE_ON_ERROR:

OUTPUT   := build
OBJDIR   := $(OUTPUT)/obj
CLANG    ?= clang
CC       ?= cc
BPFTOOL  ?= bpftool
PREFIX   ?= /usr/local
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' \
		-e 's/ppc64le/powerpc/' -e 's/s390x/s390/' -e 's/riscv64/riscv/')
VMLINUX  := vmlinux/$(ARCH)/vmlinux.h
# clang's own system include dirs, so BPF code sees asm/ types.
CLANG_SYS := $(shell $(CLANG) -v -E - </dev/null 2>&1 | \
	sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')
BPF_CFLAGS := -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) \
	-Iinclude -I$(OUTPUT) -I$(dir $(VMLINUX)) $(CLANG_SYS)
CFLAGS   ?= -g -O2
override CFLAGS += -Wall -Werror -Wno-unused-parameter -D_GNU_SOURCE \
	-Iinclude -Iuser -I$(OUTPUT) $(shell pkg-config --cflags libbpf 2>/dev/null)
LDLIBS   := -lbpf -lelf -lz -ljansson -lncursesw -lmicrohttpd -lpthread -lm
# SAN=1: user code with ASan and UBSan (any UB aborts), e.g.
# `make OUTPUT=build/asan SAN=1 CC=clang all` (tests/t_sanitize.sh does;
# clang's UBSan also flags NULL + 0).
ifeq ($(SAN),1)
override CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
endif
# FUZZ=1: user code built by clang for libFuzzer targets (`make fuzz`).
ifeq ($(FUZZ),1)
CC       := clang
override CFLAGS += -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer
endif

BPF_SRCS := $(wildcard bpf/*.bpf.c)
USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(OBJDIR)/%.o,$(USER_SRCS))
TEST_SRCS := $(wildcard tests/*.c)
TEST_BINS := $(patsubst tests/%.c,$(OUTPUT)/tests/%,$(TEST_SRCS))
BENCH_SRCS := $(filter-out %.bpf.c,$(wildcard bench/*.c))
BENCH_BINS := $(patsubst bench/%.c,$(OUTPUT)/bench/%,$(BENCH_SRCS))

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.PHONY: all clean install deps vmlinux test demo bench test-bins bench-bins
all: $(OUTPUT)/xfertrace test-bins bench-bins

$(OUTPUT) $(OBJDIR) $(OUTPUT)/tests $(OUTPUT)/bench:
	$(Q)mkdir -p $@

$(OUTPUT)/xfertrace.bpf.o: $(BPF_SRCS) $(wildcard bpf/*.h) include/xfertrace.h $(VMLINUX) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c bpf/xfertrace.bpf.c -o $@.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $@.tmp.o
	$(Q)rm -f $@.tmp.o

$(OUTPUT)/xfertrace.skel.h: $(OUTPUT)/xfertrace.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name xfertrace_bpf > $@

$(OBJDIR)/%.o: user/%.c $(wildcard user/*.h) include/xfertrace.h $(OUTPUT)/xfertrace.skel.h | $(OBJDIR)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/xfertrace: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

test-bins: $(TEST_BINS)
$(OUTPUT)/tests/%: tests/%.c | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests $< $(filter-out $(OBJDIR)/main.o,$(if $(findstring unit_,$*),$(USER_OBJS),)) \
		$(if $(findstring unit_,$*),$(LDLIBS),-lpthread -lm) -o $@

bench-bins: $(BENCH_BINS)
$(OUTPUT)/bench/%: bench/%.c $(wildcard bench/*.h) | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -lpthread -lm -o $@

# The bench's floor condition: empty BPF programs, own skeleton.
$(OUTPUT)/bench/floor.bpf.o: bench/floor.bpf.c $(VMLINUX) | $(OUTPUT)/bench
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/bench/floor.skel.h: $(OUTPUT)/bench/floor.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name floor_bpf > $@

$(OUTPUT)/bench/floor_loader: bench/floor_loader.c $(OUTPUT)/bench/floor.skel.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -I$(OUTPUT)/bench $< -lbpf -lelf -lz -o $@

# Unit tests link the user objects.
$(patsubst tests/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit_*.c)): $(USER_OBJS)

# libFuzzer targets (tests/fuzz/fuzz_*.c) with the user objects but main.
# `make fuzz` builds them into build/fuzz and runs each FUZZ_TIME seconds;
# tests/t_fuzz.sh runs them briefly in `make test`.
FUZZ_TIME ?= 300
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
.PHONY: fuzz fuzz-bins
fuzz-bins: $(FUZZ_BINS)
$(OUTPUT)/fuzz:
	$(Q)mkdir -p $@
$(OUTPUT)/fuzz/%: tests/fuzz/%.c $(USER_OBJS) | $(OUTPUT)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CC) $(CFLAGS) -fsanitize=fuzzer $< \
		$(filter-out $(OBJDIR)/main.o,$(USER_OBJS)) $(LDLIBS) -o $@
fuzz:
	$(MAKE) OUTPUT=build/fuzz FUZZ=1 fuzz-bins
	tests/fuzz/run.sh build/fuzz $(FUZZ_TIME)

install: $(OUTPUT)/xfertrace
	install -D -m 0755 $< $(DESTDIR)$(PREFIX)/sbin/xfertrace

vmlinux:
	mkdir -p vmlinux/$(ARCH)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX)

deps:
	tools/deps.sh

test: deps
	$(MAKE) all
	tests/run-all.sh

demo: deps
	$(MAKE) all
	tools/demo.sh

bench: deps
	$(MAKE) all
	bench/run.sh

clean:
	rm -rf $(OUTPUT)
