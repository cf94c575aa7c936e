# SPDX-License-Identifier: GPL-2.0-or-later
#
# The entry point.  Everything in C is one meson project; this file wraps it
# and runs the test suites.
#
#   make                 build into build/
#   make check           install dependencies, build, run every test suite
#                        (fuzzers for 30 s each, C unit tests, pytest), then
#                        the unit tests and pytest again under ASan+UBSan
#   make check SANITIZE=1  only the sanitizer build and its tests
#   make fuzz            run every fuzz target FUZZ_SECONDS (default 600) each
#   make bench           kvm-image convert against qemu-img convert, side by side
#   make demo            convert a sample VMware disk it makes
#   make install DESTDIR=... PREFIX=/usr
#   make qemu-kvm-core   the KVM-only QEMU into build/qemu-kvm-core/ (cached)
#   make install-qemu-kvm-core DESTDIR=... PREFIX=/usr   and install it
#   make deb             Debian packages, unsigned, into build/deb/
#   make deb-qemu-core   the KVM-only QEMU's package, kvm-run-qemu-core, into
#                        build/deb-qemu-core/ (its QEMU build cached)
#   make repo            a local apt repository of them in build/deb/repo/
#   make check-slow      the suites too slow for make check (pytest -m slow)
#   make rpm, make rpm-repo   openSUSE and Fedora packages and their repositories
#   make rpm-qemu-core   kvm-run-qemu-core for openSUSE and Fedora into build/rpm-qemu-core/
#   make clean

PREFIX ?= /usr/local
DESTDIR ?=
SANITIZE ?=
PYTEST ?= pytest-3
# pytest-xdist spreads the integration tests over all cores.
PYTEST_JOBS ?= auto

BUILD := build
ASAN_BUILD := build-asan
FUZZ_BUILD := build-fuzz
# Seconds each fuzz target runs: make fuzz FUZZ_SECONDS=1800.
FUZZ_SECONDS ?= 600
# What make check gives each one.
CHECK_FUZZ_SECONDS ?= 30

MESON_OPTS := --buildtype=debugoptimized -Dwerror=true
ASAN_OPTS := --buildtype=debug -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
# libFuzzer instruments everything; the fuzz targets link its main.
FUZZ_OPTS := --buildtype=debugoptimized -Dfuzzing=true -Db_sanitize=address,undefined \
	-Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link -Dman-pages=disabled

# Leaks are errors; a report from UBSan aborts the run like one from ASan.
export ASAN_OPTIONS := detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1

.PHONY: all deps check check-plain check-asan check-fuzz fuzz bench demo install clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX) $(MESON_OPTS)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --prefix=$(PREFIX) $(ASAN_OPTS)

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) $(FUZZ_OPTS)

ifeq ($(SANITIZE),1)
check: deps
	$(MAKE) --no-print-directory check-asan
else
check: deps
	$(MAKE) --no-print-directory check-fuzz
	$(MAKE) --no-print-directory check-plain
	$(MAKE) --no-print-directory check-asan
endif

# One build's unit tests, then its pytest suites (with the pytest arguments
# given second); pytest's summary is last.
define run-suites
	ninja -C $(1)
	meson test -C $(1) --print-errorlogs --num-processes 2
	KVM_BUILD_DIR=$(CURDIR)/$(1) $(PYTEST) -n $(PYTEST_JOBS) -q -rs $(2) tests
endef

check-plain: $(BUILD)/build.ninja
	$(call run-suites,$(BUILD))

# Guest boots and module builds run once, in the plain pass.
check-asan: $(ASAN_BUILD)/build.ninja
	$(call run-suites,$(ASAN_BUILD),-m "not guest")

# Every fuzz target for a short time, under ASan and UBSan.
check-fuzz: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	image-tools/fuzz/run-fuzzers $(FUZZ_BUILD) $(CHECK_FUZZ_SECONDS)

fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	image-tools/fuzz/run-fuzzers $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The suites too slow for every CI run, each over about ten minutes
# (docs/testing.md lists them).
.PHONY: check-slow
check-slow: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	KVM_BUILD_DIR=$(CURDIR)/$(BUILD) $(PYTEST) -q -rs -m slow tests

# kvm-image against qemu-img on a cached 8 GiB corpus; prints the ratios.
bench: deps all
	bench/convert.py --build $(BUILD)

demo: deps all
	scripts/demo $(BUILD)

install: $(BUILD)/build.ninja
	meson configure $(BUILD) -Dprefix=$(PREFIX)
	ninja -C $(BUILD)
	meson install -C $(BUILD) --no-rebuild $(if $(DESTDIR),--destdir "$(DESTDIR)")

# The KVM-only QEMU from the distribution's QEMU source (docs/qemu-kvm.md);
# built once per change of its inputs, cached in ~/.cache/kvm-bundle/qemu-core/.
.PHONY: qemu-kvm-core install-qemu-kvm-core
qemu-kvm-core:
	qemu-kvm/core/build-qemu-core --output $(BUILD)/qemu-kvm-core

# Where kvm-run, built with the same PREFIX, looks for it.
install-qemu-kvm-core:
	qemu-kvm/core/build-qemu-core --libexecdir $(PREFIX)/libexec --install \
		$(if $(DESTDIR),--destdir "$(DESTDIR)")
# Debian packages: packaging-debian/debian/ staged in a copy of the source
# tree under build/deb/, built with dpkg-buildpackage -us -uc -b.
DEB_OUT := $(BUILD)/deb
# kvm-run-qemu-core: Debian's QEMU source with packaging-debian/qemu-core/debian/.
DEB_QEMU_CORE_OUT := $(BUILD)/deb-qemu-core
.PHONY: deb deb-qemu-core repo

deb:
	packaging-debian/build-deb $(DEB_OUT)

deb-qemu-core:
	packaging-debian/build-deb-qemu-core $(DEB_QEMU_CORE_OUT)

# With kvm-run-qemu-core when make deb-qemu-core has been run: installing it
# stays a choice of the user's (apt install kvm-run-qemu-core).
repo: deb
	packaging-debian/make-repo $(DEB_OUT) \
		$(if $(wildcard $(DEB_QEMU_CORE_OUT)/*.deb),$(DEB_QEMU_CORE_OUT)) $(DEB_OUT)/repo
# RPM packages for openSUSE and Fedora, built here with rpmbuild, and their
# repositories with a kvm.repo file (docs/packaging.md).
# RPM_REPO_URL: where build/rpm/ will be served from (default: its file:// path).
.PHONY: rpm rpm-repo rpm-qemu-core
rpm:
	packaging-rpm/build-rpms $(BUILD)/rpm

# kvm-run-qemu-core, with Debian's patched QEMU tree standing in for the
# distribution's (docs/packaging.md).
rpm-qemu-core:
	packaging-rpm/build-rpm-qemu-core $(BUILD)/rpm-qemu-core

# With kvm-run-qemu-core when make rpm-qemu-core has been run.
rpm-repo: rpm
	for target in opensuse fedora; do \
		if [ -d $(BUILD)/rpm-qemu-core/$$target ]; then \
			cp -r $(BUILD)/rpm-qemu-core/$$target/. $(BUILD)/rpm/$$target/; \
		fi; \
	done
	packaging-rpm/make-repo $(BUILD)/rpm $(RPM_REPO_URL)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
