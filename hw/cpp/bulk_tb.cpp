// Bulk stimulus for pixel_encoder_top without Python in the loop: the same RTL, compiled by
// Verilator, driven from a file of input codes at one track per cycle. Python checks the
// outputs bit for bit; the protocol tests stay in cocotb (tb/test_encoder.py).
//
// usage: bulk_tb IN OUT THRESHOLD
//   IN   n x N_INPUTS bytes, each a 4-bit input code (input j of track i at byte i*N_INPUTS+j)
//   OUT  n records of 8 signed bytes (mu0..mu7), a little-endian uint32 score, a uint8 flag
// Exit status 1 (with a message) when the number or timing of outputs is wrong.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "Vpixel_encoder_top.h"
#include "verilated.h"

static constexpr int N_INPUTS = 53;
static constexpr int CODE_BITS = 4;
static constexpr int REC = 8 + 4 + 1;

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s IN OUT THRESHOLD\n", argv[0]);
        return 2;
    }
    std::FILE* fin = std::fopen(argv[1], "rb");
    if (!fin) { std::perror(argv[1]); return 2; }
    std::vector<uint8_t> codes;
    uint8_t buf[1 << 16];
    size_t got;
    while ((got = std::fread(buf, 1, sizeof buf, fin)) > 0) codes.insert(codes.end(), buf, buf + got);
    std::fclose(fin);
    if (codes.size() % N_INPUTS) { std::fprintf(stderr, "%s: size not a multiple of %d\n", argv[1], N_INPUTS); return 2; }
    const size_t n = codes.size() / N_INPUTS;

    auto ctx = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vpixel_encoder_top>(ctx.get());
    top->score_threshold = static_cast<uint32_t>(std::strtoul(argv[3], nullptr, 10));
    top->in_valid = 0;
    top->clk = 0;
    auto edge = [&]() { top->clk = 1; top->eval(); top->clk = 0; top->eval(); };
    top->rst = 1;
    top->eval();
    edge();
    edge();
    top->rst = 0;

    std::vector<uint8_t> out;
    out.reserve(n * REC);
    size_t seen = 0, first_edge = 0, last_edge = 0;
    const size_t words = sizeof(top->in_data) / sizeof(top->in_data[0]);
    for (size_t cycle = 0; seen < n && cycle < n + 64; ++cycle) {
        top->in_valid = cycle < n;
        for (size_t w = 0; w < words; ++w) top->in_data[w] = 0;
        if (cycle < n) {
            const uint8_t* c = &codes[cycle * N_INPUTS];
            for (int j = 0; j < N_INPUTS; ++j) {
                const int bit = j * CODE_BITS;
                top->in_data[bit / 32] |= static_cast<uint32_t>(c[j] & 0xF) << (bit % 32);
            }
        }
        edge();  // track `cycle` accepted at this edge; outputs below belong to earlier tracks
        if (top->out_valid) {
            const uint64_t mu = top->out_mu;
            for (int k = 0; k < 8; ++k) out.push_back(static_cast<uint8_t>(mu >> (8 * k)));
            const uint32_t s = top->out_score;
            for (int k = 0; k < 4; ++k) out.push_back(static_cast<uint8_t>(s >> (8 * k)));
            out.push_back(top->out_flag);
            if (seen++ == 0) first_edge = cycle;
            last_edge = cycle;
        }
    }
    top->final();
    if (seen != n) { std::fprintf(stderr, "bulk_tb: %zu tracks in, %zu outputs out\n", n, seen); return 1; }
    std::FILE* fout = std::fopen(argv[2], "wb");
    if (!fout || std::fwrite(out.data(), 1, out.size(), fout) != out.size()) { std::perror(argv[2]); return 2; }
    std::fclose(fout);
    // Edge k accepts track k, so the first output's edge index is the latency in cycles.
    std::printf("tracks=%zu first_output_edge=%zu last_output_edge=%zu\n", n, first_edge, last_edge);
    return 0;
}
