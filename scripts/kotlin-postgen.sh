#!/usr/bin/env bash
# The one post-generation step for the Kotlin bindings, run by scripts/bindings.sh on the file
# uniffi 0.32 writes (so `bindings.sh --check` covers its output too). uniffi has no configuration
# for any of these; each edit is small, textual, and checked: if the generated shape changes (a
# uniffi upgrade), this fails instead of silently skipping an edit.
#
#   1. ByoaException.message is the Rust Display text (uniffi writes a field dump such as
#      `detail=...`, or "" for variants without fields); nested errors (KeyUnavailable.error,
#      StorageUnavailable.error) are also the exception's `cause`.
#   2. The app-side error types (StorageException, KeySignerException, HttpException,
#      ProviderException) have `message` = their `detail`, not `detail=...`.
#   3. Objects' toString() (Rust Debug/Display) never throws: a closed object prints
#      `<Type>(closed)` instead of an IllegalStateException.
#   4. Field-less enum variants are `data object`s, so AuthState.Restoring prints `Restoring`.
#   5. Before the library object registers its callbacks with JNA, it calls the hand-written
#      uniffiKeepCallbackThreadsAttached (bindings/kotlin/src/layer/kotlin/.../CallbackThreads.kt)
#      with every callback object, so that a Rust thread calling into Kotlin stays attached to the
#      JVM instead of being attached and detached (a new java.lang.Thread) on every callback.
#
# Usage: scripts/kotlin-postgen.sh <path of dynamic_byoa.kt>   (edits it in place)
set -euo pipefail
file="$1"

perl -0777 -i -pe '
  my %n;
  # 1. ByoaException: message = Display, nested errors as cause.
  s{(sealed class ByoaException: kotlin\.Exception\(\) \{.*?companion object ErrorHandler)}{
    my $block = $1;
    $n{message} = ($block =~ s/override val message\n(\s+)get\(\) = "[^\n]*"/override val message: String\n$1get() = toString()/g);
    $n{cause} = ($block =~ s/(val `error`: \w+Exception\n\s*\) : ByoaException\(\) \{\n)/$1        override val cause: Throwable?\n            get() = `error`\n/g);
    $block
  }se or die "kotlin-postgen: ByoaException not found\n";
  die "kotlin-postgen: ByoaException messages: $n{message}\n" unless $n{message} >= 30;
  die "kotlin-postgen: nested errors: $n{cause}\n" unless $n{cause} == 2;

  # 2. The app-side error types: message = detail.
  $n{detail} = (s/override val message\n(\s+)get\(\) = "detail=\$\{ `detail` \}"/override val message: String\n$1get() = `detail`/g);
  die "kotlin-postgen: detail messages: $n{detail}\n" unless $n{detail} >= 12;
  die "kotlin-postgen: a field-dump message is left\n" if /override val message\n\s+get\(\) = "/;

  # 3. toString() of objects never throws.
  $n{tostring} = (s/override fun toString\(\): String \{\n(\s+return FfiConverterString\.lift\(\n\s*callWithHandle \{)/override fun toString(): String = try { uniffiTraitToString() } catch (e: IllegalStateException) { "\${javaClass.simpleName}(closed)" }\n\n    private fun uniffiTraitToString(): String {\n$1/g);
  die "kotlin-postgen: object toString: $n{tostring}\n" unless $n{tostring} >= 3;

  # 4. Field-less enum variants print their name.
  $n{objects} = (s/^(\s+)object (\w+) : (\w+)\(\)$/$1data object $2 : $3()/mg);
  die "kotlin-postgen: data objects: $n{objects}\n" unless $n{objects} >= 1;

  # 5. Keep JNA callback threads attached: hand every callback object over before registering.
  s{(internal object UniffiLib \{.*?init \{\n)(\s+)(Native\.register\(UniffiLib::class\.java[^\n]*\n)((?:\s+uniffiCallbackInterface\w+\.register\(this\)\n)+)}{
    my ($head, $indent, $register, $callbacks) = ($1, $2, $3, $4);
    my @vtables = map { "uniffiCallbackInterface$_.vtable" } ($callbacks =~ /uniffiCallbackInterface(\w+)\.register/g);
    $n{vtables} = scalar @vtables;
    my $objects = join(", ", "uniffiRustFutureContinuationCallbackImpl", "uniffiForeignFutureDroppedCallbackImpl", @vtables);
    "$head${indent}uniffiKeepCallbackThreadsAttached($objects)\n$indent$register$callbacks"
  }se or die "kotlin-postgen: UniffiLib init not found\n";
  die "kotlin-postgen: callback interfaces: $n{vtables}\n" unless $n{vtables} >= 6;
' "$file"
