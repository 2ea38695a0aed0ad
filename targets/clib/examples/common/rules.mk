# Included by each bare-metal board's Makefile: builds $(OUT)/example.elf from the shared
# main.c, the board's files and an exported library, in one compiler call.
#   make -C targets/clib/examples/BOARD LIB=/path/to/exported/lib SAMPLES=/path/to/samples [OUT=dir]
# LIB: the folder `tinytrain export c` wrote; SAMPLES: a folder with samples.h and samples.c.
# The board's Makefile sets CC, CPU_FLAGS, BOARD_SOURCES and LDFLAGS first.
EX := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
LIB ?= $(error give LIB=, the folder tinytrain export c wrote)
SAMPLES ?= $(error give SAMPLES=, a folder with samples.h and samples.c)
OUT ?= build
# Another program in main.c's place: test/fixtures/c/power-loss-main.c.
MAIN ?= $(EX)/main.c
SIZE ?= size
# The library's flags (its Makefile's): IEEE float32 as every other engine computes it.
TT_FLAGS = -std=c99 -O2 -ffp-contract=off -fno-math-errno -DNDEBUG -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0 -Wall -Wextra -ffunction-sections -fdata-sections
SOURCES = $(MAIN) $(EX)/common/print.c $(BOARD_SOURCES) $(SAMPLES)/samples.c $(wildcard $(LIB)/*.c)

$(OUT)/example.elf: $(SOURCES) $(wildcard $(LIB)/*.h $(EX)/*.h $(EX)/common/*.h *.h *.ld)
	mkdir -p $(OUT)
	$(CC) $(TT_FLAGS) $(CPU_FLAGS) $(CFLAGS) -I. -I$(EX) -I$(EX)/common -I$(LIB) -I$(SAMPLES) $(SOURCES) $(LDFLAGS) -o $@
	$(SIZE) $@

clean:
	rm -rf $(OUT)

.PHONY: clean
