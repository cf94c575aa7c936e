# SPDX-License-Identifier: GPL-2.0-or-later
#
# The entry point.  Everything in C is one meson project; this file wraps it
# and runs the test suites.
#
#   make                 build into build/
#   make check           install dependencies, build, run every test suite
#                        (C unit tests, pytest), then the same under ASan+UBSan
#   make check SANITIZE=1  only the sanitizer build and its tests
#   make demo            convert a sample VMware disk it makes
#   make install DESTDIR=... PREFIX=/usr
#   make clean

PREFIX ?= /usr/local
DESTDIR ?=
SANITIZE ?=
PYTEST ?= pytest-3
# pytest-xdist spreads the integration tests over all cores.
PYTEST_JOBS ?= auto

BUILD := build
ASAN_BUILD := build-asan

MESON_OPTS := --buildtype=debugoptimized -Dwerror=true
ASAN_OPTS := --buildtype=debug -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false

# Leaks are errors; a report from UBSan aborts the run like one from ASan.
export ASAN_OPTIONS := detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1

.PHONY: all deps check check-plain check-asan check-slow demo install clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX) $(MESON_OPTS)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --prefix=$(PREFIX) $(ASAN_OPTS)

ifeq ($(SANITIZE),1)
check: deps
	$(MAKE) --no-print-directory check-asan
else
check: deps
	$(MAKE) --no-print-directory check-plain
	$(MAKE) --no-print-directory check-asan
endif

# One build's unit tests, then its pytest suites; pytest's summary is last.
define run-suites
	ninja -C $(1)
	meson test -C $(1) --print-errorlogs --num-processes 2
	KVM_BUILD_DIR=$(CURDIR)/$(1) $(PYTEST) -n $(PYTEST_JOBS) -q -rs tests
endef

check-plain: $(BUILD)/build.ninja
	$(call run-suites,$(BUILD))

check-asan: $(ASAN_BUILD)/build.ninja
	$(call run-suites,$(ASAN_BUILD))

demo: deps all
	scripts/demo $(BUILD)

install: $(BUILD)/build.ninja
	meson configure $(BUILD) -Dprefix=$(PREFIX)
	ninja -C $(BUILD)
	meson install -C $(BUILD) --no-rebuild $(if $(DESTDIR),--destdir "$(DESTDIR)")

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
