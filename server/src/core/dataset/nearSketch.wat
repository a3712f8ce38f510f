;; The near-duplicate sketch (dedupNear.ts has the scheme): the words of a UTF-8 text, their
;; 3-shingles, and the two one-permutation sketches the shingles fill. The only implementation of
;; words and shingles: `npm run gen:wasm` assembles it into nearSketch.generated.ts, and
;; test/dataset/nearSketch.test.ts checks it against a plain reference and the committed bytes.
;;
;; Memory: 128 signature bins (i32) at 0, 40 key bins (i32) at 512, the packed signature (128 bytes)
;; at 672, the 10 band keys (i32) at 800, each key bin's 16 probes (bytes, written by dedupNear.ts) at
;; 1024, the word list (up to 1,024 words as start and end offsets) at 2048, the words' hashes at
;; 10240 (the two carried from the list before first), the shingles' mixed hashes at 14400, the text's
;; UTF-8 bytes from 65536. `sketch(n)` reads n bytes there (and rewrites them: ASCII is case folded in
;; place by OR-ing 0x20, which only word characters are read back after), fills both sketches, packs
;; them (the signature and the band keys, as dedupNear.ts describes) and returns the number of words.
;; The 64 bytes after the text are zeroed by `sketch`: SIMD loads and a word's last 8-byte step read
;; into them.
;;
;; The memory is imported: the shared instance shares it with the exact hash (valueHash.wat), whose
;; region is 20480 to 65536 (wasm.ts has the map). `gathered(count)` sketches string values of the
;; line the hash read last, in place: the `count` indices at 63488 (i32, increasing) name values in
;; the hash's list at 61440, whose decoded bytes are moved, a newline between two, to 65536 (each no
;; later than where it was: the text before a value holds at least its quotes), then sketched. It
;; returns -1, having sketched nothing, when an index is out of order or past the values listed.
;;
;; Words are listed first and hashed, mixed and put into bins a list at a time: each loop then does one
;; thing, no call is made per word (Node 20's V8 inlines no call between WebAssembly functions), and
;; four shingles are mixed at once (PERF.md has the figures). Bins keep minima, so the order is free.
(module
  (import "env" "memory" (memory 1))
  (global $count (mut i32) (i32.const 0))

  ;; Appends the word in bytes [s, e) to the list at $wp; a full list is flushed. Returns the next $wp.
  (func $word (param $wp i32) (param $s i32) (param $e i32) (result i32)
    (i32.store (local.get $wp) (local.get $s))
    (i32.store offset=4 (local.get $wp) (local.get $e))
    (local.set $wp (i32.add (local.get $wp) (i32.const 8)))
    (if (result i32) (i32.eq (local.get $wp) (i32.const 10240))
      (then (call $flush (local.get $wp)))
      (else (local.get $wp))))

  ;; The listed words (2048 up to $wp): each one's hash (8 bytes a step, the last step's bytes past its
  ;; end masked off) after the two carried ones, then the shingles they end; the last two hashes are
  ;; carried to the next list. Returns the list's start.
  (func $flush (param $wp i32) (result i32)
    (local $p i32) (local $h i32) (local $s i32) (local $e i32) (local $g i64) (local $m i32)
    (local.set $p (i32.const 2048))
    (local.set $h (i32.const 10248))
    (block $hashed
      (loop $words
        (br_if $hashed (i32.ge_u (local.get $p) (local.get $wp)))
        (local.set $s (i32.load (local.get $p)))
        (local.set $e (i32.load offset=4 (local.get $p)))
        (local.set $g (i64.const 0xcbf29ce484222325))
        (block $last
          (loop $steps
            (br_if $last (i32.le_s (i32.sub (local.get $e) (local.get $s)) (i32.const 8)))
            (local.set $g (i64.mul (i64.xor (local.get $g) (i64.load (local.get $s))) (i64.const 0x9e3779b97f4a7c15)))
            (local.set $s (i32.add (local.get $s) (i32.const 8)))
            (br $steps)))
        (local.set $g
          (i64.mul
            (i64.xor (local.get $g)
              (i64.and (i64.load (local.get $s))
                (i64.shr_u (i64.const -1)
                  (i64.extend_i32_u (i32.sub (i32.const 64) (i32.shl (i32.sub (local.get $e) (local.get $s)) (i32.const 3)))))))
            (i64.const 0x9e3779b97f4a7c15)))
        (i32.store (local.get $h) (i32.xor (i32.wrap_i64 (i64.shr_u (local.get $g) (i64.const 32))) (i32.wrap_i64 (local.get $g))))
        (local.set $h (i32.add (local.get $h) (i32.const 4)))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $words)))
    (local.set $m (i32.shr_u (i32.sub (local.get $wp) (i32.const 2048)) (i32.const 3)))
    ;; A word ends a shingle from the text's third word on.
    (call $shingles
      (select (i32.sub (i32.const 2) (global.get $count)) (i32.const 0) (i32.lt_u (global.get $count) (i32.const 2)))
      (local.get $m))
    (i64.store (i32.const 10240) (i64.load offset=10240 (i32.shl (local.get $m) (i32.const 2))))
    (global.set $count (i32.add (global.get $count) (local.get $m)))
    (i32.const 2048))

  ;; The shingles ended by words $j to $m - 1 of the list: shingle j mixes hashes j, j + 1 and j + 2 of
  ;; the array at 10240 (the words two before, one before, and its own), four at a time (lanes past $m
  ;; are computed and not used), then updates three bins each.
  (func $shingles (param $j i32) (param $m i32)
    (local $k i32) (local $x v128) (local $y i32) (local $a i32) (local $v i32) (local $c i32)
    (local.set $k (local.get $j))
    (block $mixed
      (loop $four
        (br_if $mixed (i32.ge_s (local.get $k) (local.get $m)))
        (local.set $x
          (v128.xor
            (v128.xor
              (i32x4.mul (v128.load offset=10240 (i32.shl (local.get $k) (i32.const 2))) (v128.const i32x4 0x9e3779b1 0x9e3779b1 0x9e3779b1 0x9e3779b1))
              (i32x4.mul (v128.load offset=10244 (i32.shl (local.get $k) (i32.const 2))) (v128.const i32x4 0x85ebca77 0x85ebca77 0x85ebca77 0x85ebca77)))
            (v128.load offset=10248 (i32.shl (local.get $k) (i32.const 2)))))
        (local.set $x (v128.xor (local.get $x) (i32x4.shr_u (local.get $x) (i32.const 16))))
        (local.set $x (i32x4.mul (local.get $x) (v128.const i32x4 0x85ebca6b 0x85ebca6b 0x85ebca6b 0x85ebca6b)))
        (local.set $x (v128.xor (local.get $x) (i32x4.shr_u (local.get $x) (i32.const 13))))
        (local.set $x (i32x4.mul (local.get $x) (v128.const i32x4 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35 0xc2b2ae35)))
        (local.set $x (v128.xor (local.get $x) (i32x4.shr_u (local.get $x) (i32.const 16))))
        (v128.store offset=14400 (i32.shl (local.get $k) (i32.const 2)) (local.get $x))
        (local.set $k (i32.add (local.get $k) (i32.const 4)))
        (br $four)))
    (block $binned
      (loop $each
        (br_if $binned (i32.ge_s (local.get $j) (local.get $m)))
        (local.set $y (i32.load offset=14400 (i32.shl (local.get $j) (i32.const 2))))
        ;; The signature: bin from the top 7 bits, value from the low 25.
        (local.set $a (i32.shl (i32.shr_u (local.get $y) (i32.const 25)) (i32.const 2)))
        (local.set $v (i32.and (local.get $y) (i32.const 0x1ffffff)))
        (local.set $c (i32.load (local.get $a)))
        (i32.store (local.get $a) (select (local.get $v) (local.get $c) (i32.lt_s (local.get $v) (local.get $c))))
        ;; The key sketch's two permutations of 20 bins: bin from 8 bits scaled to 20, value from 8 bits.
        (local.set $a (i32.add (i32.const 512)
            (i32.shl (i32.shr_u (i32.mul (i32.shr_u (local.get $y) (i32.const 24)) (i32.const 20)) (i32.const 8)) (i32.const 2))))
        (local.set $v (i32.and (i32.shr_u (local.get $y) (i32.const 16)) (i32.const 0xff)))
        (local.set $c (i32.load (local.get $a)))
        (i32.store (local.get $a) (select (local.get $v) (local.get $c) (i32.lt_s (local.get $v) (local.get $c))))
        (local.set $a (i32.add (i32.const 592)
            (i32.shl (i32.shr_u (i32.mul (i32.and (i32.shr_u (local.get $y) (i32.const 8)) (i32.const 0xff)) (i32.const 20)) (i32.const 8)) (i32.const 2))))
        (local.set $v (i32.and (local.get $y) (i32.const 0xff)))
        (local.set $c (i32.load (local.get $a)))
        (i32.store (local.get $a) (select (local.get $v) (local.get $c) (i32.lt_s (local.get $v) (local.get $c))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $each))))

  ;; The string values the indices at 63488 name (the hash's list at 61440 has the first `values` of
  ;; them), moved to 65536 with a newline between two, then sketched; -1 when an index is out of order
  ;; or not listed.
  (func (export "gathered") (param $count i32) (param $values i32) (result i32)
    (local $k i32) (local $at i32) (local $idx i32) (local $prev i32) (local $len i32)
    (local.set $at (i32.const 65536))
    (local.set $prev (i32.const -1))
    (if (i32.gt_u (local.get $values) (i32.const 256)) (then (local.set $values (i32.const 256))))
    (block $moved
      (loop $each
        (br_if $moved (i32.ge_u (local.get $k) (local.get $count)))
        (local.set $idx (i32.load offset=63488 (i32.shl (local.get $k) (i32.const 2))))
        (if (i32.or (i32.le_s (local.get $idx) (local.get $prev)) (i32.ge_s (local.get $idx) (local.get $values)))
          (then (return (i32.const -1))))
        (if (local.get $k)
          (then
            (i32.store8 (local.get $at) (i32.const 0x0a))
            (local.set $at (i32.add (local.get $at) (i32.const 1)))))
        (local.set $len (i32.load offset=61444 (i32.shl (local.get $idx) (i32.const 3))))
        (memory.copy (local.get $at) (i32.load offset=61440 (i32.shl (local.get $idx) (i32.const 3))) (local.get $len))
        (local.set $at (i32.add (local.get $at) (local.get $len)))
        (local.set $prev (local.get $idx))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $each)))
    (call $sketch (i32.sub (local.get $at) (i32.const 65536))))

  (func $sketch (export "sketch") (param $n i32) (result i32)
    (local $i i32) (local $end i32) (local $inw i32) (local $start i32)
    (local $v v128) (local $k i32)
    (local $wp i32) (local $l v128) (local $width i32) (local $blockEnd i32) (local $b i32) (local $cp i32) (local $len i32)
    (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $wm i64) (local $prev i64) (local $starts i64) (local $ends i64) (local $below i64)
    ;; Every bin empty.
    (local.set $i (i32.const 0))
    (loop $fill
      (v128.store (local.get $i) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 672))))
    (i64.store (i32.const 10240) (i64.const 0))
    (global.set $count (i32.const 0))
    (local.set $wp (i32.const 2048))
    (local.set $i (i32.const 65536))
    (local.set $end (i32.add (i32.const 65536) (local.get $n)))
    (v128.store (local.get $end) (v128.const i64x2 0 0))
    (v128.store (i32.add (local.get $end) (i32.const 16)) (v128.const i64x2 0 0))
    (v128.store (i32.add (local.get $end) (i32.const 32)) (v128.const i64x2 0 0))
    (v128.store (i32.add (local.get $end) (i32.const 48)) (v128.const i64x2 0 0))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $v (v128.load (local.get $i)))
        (local.set $v1 (v128.load offset=16 (local.get $i)))
        (local.set $v2 (v128.load offset=32 (local.get $i)))
        (local.set $v3 (v128.load offset=48 (local.get $i)))
        ;; 64 ASCII bytes, or 16 (before a byte beyond ASCII, or at the text's end): their word characters
        ;; as a mask of `width` bits; the words that end in them are walked by their ends alone (a word's
        ;; start is the last start before its end, or the one carried from before).
        (local.set $width
          (if (result i32) (i32.eqz (i8x16.bitmask (v128.or (v128.or (local.get $v) (local.get $v1)) (v128.or (local.get $v2) (local.get $v3)))))
            (then (i32.const 64))
            (else (select (i32.const 16) (i32.const 0) (i32.eqz (i8x16.bitmask (local.get $v)))))))
        (if (local.get $width)
          (then
            ;; Each 16 bytes (four times written out: a loop cost 0.5 ms per 10 MB) folded in place, and
            ;; their word characters at their bits of the mask: a-z after folding, or 0-9. `x - lo <u n` is
            ;; tested as the signed `x + (0x80 - lo) <s n - 0x80`: SSE compares signed bytes in one instruction,
            ;; unsigned ones in three.
            (local.set $l (v128.or (local.get $v) (v128.const i8x16 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20)))
            (v128.store (local.get $i) (local.get $l))
            (local.set $wm (i64.extend_i32_u (i8x16.bitmask
                (v128.or
                  (i8x16.lt_s (i8x16.add (local.get $l) (v128.const i8x16 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f)) (v128.const i8x16 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102))
                  (i8x16.lt_s (i8x16.add (local.get $v) (v128.const i8x16 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50)) (v128.const i8x16 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118))))))
            (if (i32.eq (local.get $width) (i32.const 64))
              (then
                (local.set $l (v128.or (local.get $v1) (v128.const i8x16 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20)))
                (v128.store offset=16 (local.get $i) (local.get $l))
                (local.set $wm
                  (i64.or (local.get $wm)
                    (i64.shl
                      (i64.extend_i32_u
                        (i8x16.bitmask
                          (v128.or
                            (i8x16.lt_s (i8x16.add (local.get $l) (v128.const i8x16 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f)) (v128.const i8x16 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102))
                            (i8x16.lt_s (i8x16.add (local.get $v1) (v128.const i8x16 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50)) (v128.const i8x16 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118)))))
                      (i64.const 16))))
                (local.set $l (v128.or (local.get $v2) (v128.const i8x16 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20)))
                (v128.store offset=32 (local.get $i) (local.get $l))
                (local.set $wm
                  (i64.or (local.get $wm)
                    (i64.shl
                      (i64.extend_i32_u
                        (i8x16.bitmask
                          (v128.or
                            (i8x16.lt_s (i8x16.add (local.get $l) (v128.const i8x16 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f)) (v128.const i8x16 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102))
                            (i8x16.lt_s (i8x16.add (local.get $v2) (v128.const i8x16 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50)) (v128.const i8x16 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118)))))
                      (i64.const 32))))
                (local.set $l (v128.or (local.get $v3) (v128.const i8x16 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20 0x20)))
                (v128.store offset=48 (local.get $i) (local.get $l))
                (local.set $wm
                  (i64.or (local.get $wm)
                    (i64.shl
                      (i64.extend_i32_u
                        (i8x16.bitmask
                          (v128.or
                            (i8x16.lt_s (i8x16.add (local.get $l) (v128.const i8x16 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f 0x1f)) (v128.const i8x16 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102 -102))
                            (i8x16.lt_s (i8x16.add (local.get $v3) (v128.const i8x16 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50 0x50)) (v128.const i8x16 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118 -118)))))
                      (i64.const 48))))))
            (local.set $prev (i64.or (i64.shl (local.get $wm) (i64.const 1)) (i64.extend_i32_u (local.get $inw))))
            (local.set $starts (i64.and (local.get $wm) (i64.xor (local.get $prev) (i64.const -1))))
            (local.set $ends
              (i64.and
                (i64.and (local.get $prev) (i64.xor (local.get $wm) (i64.const -1)))
                (i64.shr_u (i64.const -1) (i64.extend_i32_u (i32.sub (i32.const 64) (local.get $width))))))
            (block $endsDone
              (loop $endsLoop
                (br_if $endsDone (i64.eqz (local.get $ends)))
                (local.set $k (i32.wrap_i64 (i64.ctz (local.get $ends))))
                (local.set $below (i64.and (local.get $starts) (i64.sub (i64.shl (i64.const 1) (i64.extend_i32_u (local.get $k))) (i64.const 1))))
                (if (i64.ne (local.get $below) (i64.const 0))
                  (then (local.set $start (i32.add (local.get $i) (i32.sub (i32.const 63) (i32.wrap_i64 (i64.clz (local.get $below))))))))
                (i32.store (local.get $wp) (local.get $start))
                (i32.store offset=4 (local.get $wp) (i32.add (local.get $i) (local.get $k)))
                (local.set $wp (i32.add (local.get $wp) (i32.const 8)))
                (if (i32.eq (local.get $wp) (i32.const 10240)) (then (local.set $wp (call $flush (local.get $wp)))))
                (local.set $ends (i64.and (local.get $ends) (i64.sub (local.get $ends) (i64.const 1))))
                (br $endsLoop)))
            ;; A word open at the block's end started at the block's last start, or before the block.
            (local.set $inw (i32.wrap_i64 (i64.and (i64.shr_u (local.get $wm) (i64.extend_i32_u (i32.sub (local.get $width) (i32.const 1)))) (i64.const 1))))
            (if (i32.and (local.get $inw) (i64.ne (local.get $starts) (i64.const 0)))
              (then (local.set $start (i32.add (local.get $i) (i32.sub (i32.const 63) (i32.wrap_i64 (i64.clz (local.get $starts))))))))
            (local.set $i (i32.add (local.get $i) (local.get $width))))
          (else
            ;; Beyond ASCII somewhere in these 16 bytes: one character at a time to their end.
            (local.set $blockEnd (i32.add (local.get $i) (i32.const 16)))
            (block $slowDone
              (loop $slow
                (br_if $slowDone (i32.ge_u (local.get $i) (local.get $blockEnd)))
                (local.set $b (i32.load8_u (local.get $i)))
                (if (i32.lt_u (local.get $b) (i32.const 0x80))
                  (then
                    (if (i32.or
                          (i32.lt_u (i32.sub (i32.or (local.get $b) (i32.const 0x20)) (i32.const 0x61)) (i32.const 26))
                          (i32.lt_u (i32.sub (local.get $b) (i32.const 0x30)) (i32.const 10)))
                      (then
                        (i32.store8 (local.get $i) (i32.or (local.get $b) (i32.const 0x20)))
                        (if (i32.eqz (local.get $inw))
                          (then (local.set $start (local.get $i)) (local.set $inw (i32.const 1)))))
                      (else
                        (if (local.get $inw)
                          (then (local.set $wp (call $word (local.get $wp) (local.get $start) (local.get $i))) (local.set $inw (i32.const 0))))))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br $slow)))
                ;; A lead byte: decode the code point (encodeInto writes valid UTF-8).
                (if (i32.lt_u (local.get $b) (i32.const 0xe0))
                  (then
                    (local.set $len (i32.const 2))
                    (local.set $cp
                      (i32.or (i32.shl (i32.and (local.get $b) (i32.const 0x1f)) (i32.const 6))
                        (i32.and (i32.load8_u offset=1 (local.get $i)) (i32.const 0x3f)))))
                  (else
                    (if (i32.lt_u (local.get $b) (i32.const 0xf0))
                      (then
                        (local.set $len (i32.const 3))
                        (local.set $cp
                          (i32.or
                            (i32.or (i32.shl (i32.and (local.get $b) (i32.const 0x0f)) (i32.const 12))
                              (i32.shl (i32.and (i32.load8_u offset=1 (local.get $i)) (i32.const 0x3f)) (i32.const 6)))
                            (i32.and (i32.load8_u offset=2 (local.get $i)) (i32.const 0x3f)))))
                      (else
                        (local.set $len (i32.const 4))
                        (local.set $cp (i32.const 0x10000))))))
                (if (i32.or
                      (i32.or (i32.le_u (local.get $cp) (i32.const 0xbf))
                        (i32.lt_u (i32.sub (local.get $cp) (i32.const 0x2000)) (i32.const 0x70)))
                      (i32.or (i32.lt_u (i32.sub (local.get $cp) (i32.const 0x3000)) (i32.const 0x40))
                        (i32.lt_u (i32.sub (local.get $cp) (i32.const 0xff00)) (i32.const 0x10))))
                  (then
                    ;; A separator.
                    (if (local.get $inw)
                      (then (local.set $wp (call $word (local.get $wp) (local.get $start) (local.get $i))) (local.set $inw (i32.const 0)))))
                  (else
                    (if (i32.or
                          (i32.lt_u (i32.sub (local.get $cp) (i32.const 0x2e80)) (i32.const 0x7180))
                          (i32.or (i32.lt_u (i32.sub (local.get $cp) (i32.const 0xac00)) (i32.const 0x2bb0))
                            (i32.lt_u (i32.sub (local.get $cp) (i32.const 0xf900)) (i32.const 0x200))))
                      (then
                        ;; An ideograph: a word by itself.
                        (if (local.get $inw)
                          (then (local.set $wp (call $word (local.get $wp) (local.get $start) (local.get $i))) (local.set $inw (i32.const 0))))
                        (local.set $wp (call $word (local.get $wp) (local.get $i) (i32.add (local.get $i) (local.get $len)))))
                      (else
                        (if (i32.eqz (local.get $inw))
                          (then (local.set $start (local.get $i)) (local.set $inw (i32.const 1))))))))
                (local.set $i (i32.add (local.get $i) (local.get $len)))
                (br $slow)))))
        (br $blocks)))
    (if (local.get $inw) (then (local.set $wp (call $word (local.get $wp) (local.get $start) (local.get $end)))))
    (drop (call $flush (local.get $wp)))
    ;; One or two words: one shingle of what there is, as if a word whose hash is the count followed them.
    (if (i32.lt_u (i32.sub (global.get $count) (i32.const 1)) (i32.const 2))
      (then
        (i32.store (i32.const 10248) (global.get $count))
        (call $shingles (i32.const 0) (i32.const 1))))
    ;; A text without words has no shingle: nothing to pack (and no key bin to densify from).
    (if (global.get $count) (then (call $pack)))
    (global.get $count))

  ;; The signature: a bin's value v (the low 25 bits of its minimum) as 1 + (v & 0xffff) * 255 >> 16, an
  ;; empty bin as 0, four bins at a time. The band keys: each key bin densified (an empty bin takes
  ;; the first non-empty bin of its probe sequence, then of (b + attempt) % 40), four rows a band mixed
  ;; with FNV's prime from (band + 1) * 0x9e3779b1, then fmix32.
  (func $pack
    (local $i i32) (local $band i32) (local $r i32) (local $b i32) (local $v i32) (local $k i32) (local $attempt i32) (local $x v128)
    (local.set $i (i32.const 0))
    (loop $sig
      ;; Four bins a step: their packed values narrowed to bytes, the low four stored.
      (local.set $x (v128.load (local.get $i)))
      (local.set $x
        (v128.andnot
          (i32x4.add
            (i32x4.shr_u
              (i32x4.mul (v128.and (local.get $x) (v128.const i32x4 0xffff 0xffff 0xffff 0xffff)) (v128.const i32x4 255 255 255 255))
              (i32.const 16))
            (v128.const i32x4 1 1 1 1))
          (i32x4.eq (local.get $x) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))))
      (local.set $x (i16x8.narrow_i32x4_u (local.get $x) (local.get $x)))
      (v128.store32_lane offset=672 0 (i32.shr_u (local.get $i) (i32.const 2)) (i8x16.narrow_i16x8_u (local.get $x) (local.get $x)))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $sig (i32.lt_u (local.get $i) (i32.const 512))))
    (local.set $band (i32.const 0))
    (loop $bands
      (local.set $k (i32.mul (i32.add (local.get $band) (i32.const 1)) (i32.const 0x9e3779b1)))
      (local.set $r (i32.const 0))
      (loop $rows
        (local.set $b (i32.add (i32.shl (local.get $band) (i32.const 2)) (local.get $r)))
        (local.set $v (i32.load offset=512 (i32.shl (local.get $b) (i32.const 2))))
        (local.set $attempt (i32.const 0))
        (block $found
          (loop $probe
            (br_if $found (i32.ne (local.get $v) (i32.const 0x7fffffff)))
            (local.set $v
              (i32.load offset=512 (i32.shl
                (if (result i32) (i32.lt_u (local.get $attempt) (i32.const 16))
                  (then (i32.load8_u offset=1024 (i32.add (i32.shl (local.get $b) (i32.const 4)) (local.get $attempt))))
                  (else (i32.rem_u (i32.add (local.get $b) (local.get $attempt)) (i32.const 40))))
                (i32.const 2))))
            (local.set $attempt (i32.add (local.get $attempt) (i32.const 1)))
            (br $probe)))
        (local.set $k (i32.mul (i32.xor (local.get $k) (local.get $v)) (i32.const 0x01000193)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br_if $rows (i32.lt_u (local.get $r) (i32.const 4))))
      (local.set $k (i32.xor (local.get $k) (i32.shr_u (local.get $k) (i32.const 16))))
      (local.set $k (i32.mul (local.get $k) (i32.const 0x85ebca6b)))
      (local.set $k (i32.xor (local.get $k) (i32.shr_u (local.get $k) (i32.const 13))))
      (local.set $k (i32.mul (local.get $k) (i32.const 0xc2b2ae35)))
      (local.set $k (i32.xor (local.get $k) (i32.shr_u (local.get $k) (i32.const 16))))
      (i32.store offset=800 (i32.shl (local.get $band) (i32.const 2)) (local.get $k))
      (local.set $band (i32.add (local.get $band) (i32.const 1)))
      (br_if $bands (i32.lt_u (local.get $band) (i32.const 10)))))
)
