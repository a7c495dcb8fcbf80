"""Rule-Following Fine-Tuning (RFFT): the prompt shows the rule (Python code for digit-by-digit addition),
the target executes it step by step, as the paper's template writes it.

For 59+13 the prompt is the instruction, the question and the code (785 characters), and the target is
the trace: the operands as digit lists, each loop test, each pop, each sum with its digit and carry, the
final carry test and the returned list, `[7, 2]` (1,566 characters). The same template in base 9 is the
paper's base-9 variant (`%9`, `//9`).
"""

from __future__ import annotations

INSTRUCTION = "Follow the code step by step to answer the question:"
_FENCE = "```"


def code(base: int = 10) -> str:
    return (
        "def sum_digit_by_digit(num1, num2):\n"
        "    # Initialize the result list and carry\n"
        "    result=[]\n"
        "    carry=0\n"
        "    # Loop through each digit\n"
        "    while num1 or num2:\n"
        "        # Get the current digits, defaulting to 0 if one number is shorter\n"
        "        digit1=num1.pop() if num1 else 0\n"
        "        digit2=num2.pop() if num2 else 0\n"
        "        # Calculate the sum of the current digits and the carry\n"
        "        total=digit1+digit2+carry\n"
        "        # Insert the last digit of total to the beginning of the result and update carry\n"
        f"        result.insert(0,total%{base})\n"
        f"        carry=total//{base}\n"
        "    # If there's a remaining carry, insert it to the beginning of the result\n"
        "    if carry:\n"
        "        result.insert(0, carry)\n"
        "    # Return the result\n"
        "    return result"
    )


def rfft_prompt(a: str | int, b: str | int, base: int = 10) -> str:
    """`a` and `b` as written in `base` (base-9 operands are given as their base-9 digit strings)."""
    return f"{INSTRUCTION}\n{a}+{b}=\n{code(base)}"


def _block(*lines: str) -> str:
    return "\n" + "\n".join(lines)


def _loop_test(num1: list[int], num2: list[int]) -> str:
    going = bool(num1) or bool(num2)
    return _block(_FENCE, "while num1 or num2:", _FENCE, "2.1 check the stop criterion", f"num1={num1}", f"num2={num2}",
                  f"bool(num1)={bool(num1)}", f"bool(num2)={bool(num2)}", f"num1 or num2={going}",
                  "enter the loop" if going else "end the loop")


def _pop(k: int, num: list[int]) -> str:
    head = (_FENCE, f"digit{k}=num{k}.pop() if num{k} else 0", _FENCE)
    if num:
        return _block(*head, f"num{k}={num}", f"bool(num{k})=True", f"num{k}.pop()", f"num{k}={num[:-1]}", f"digit{k}={num[-1]}")
    return _block(*head, f"num{k}=[]", f"bool(num{k})=False", f"num{k}=[]", f"digit{k}=0")


def rfft_target(a: str | int, b: str | int, base: int = 10) -> str:
    """The executed trace: what a model is fine-tuned to write after `rfft_prompt(a, b)`."""
    num1, num2 = [int(d) for d in str(a)], [int(d) for d in str(b)]
    out = [_block(f"num1={num1}", f"num2={num2}"),
           _block("1. Initialize Result and Carry", "result=[]", "carry=0", "", "2. Loop Through Each Digit")]
    result: list[int] = []
    carry = 0
    while num1 or num2:
        out += [_loop_test(num1, num2), _block("2.2 one iteration"), _pop(1, num1)]
        digit1 = num1.pop() if num1 else 0
        out.append(_pop(2, num2))
        digit2 = num2.pop() if num2 else 0
        total = digit1 + digit2 + carry
        out.append(_block(_FENCE, "total=digit1+digit2+carry", _FENCE, f"total=digit1+digit2+carry={digit1}+{digit2}+{carry}={total}",
                          _FENCE, f"result.insert(0,total%{base})", _FENCE, f"result={result}",
                          f"total%{base}={total}%{base}={total % base}", f"result={[total % base] + result}",
                          _FENCE, f"carry=total//{base}", _FENCE, f"carry={total}//{base}={total // base}",
                          "2.3 back to the start of the loop"))
        result.insert(0, total % base)
        carry = total // base
    out.append(_loop_test(num1, num2))
    check = (_FENCE, "if carry:", "    result.insert(0, carry)", _FENCE)
    if carry:
        out.append(_block("3. Check Remaining Carry", *check, f"result={result}", "carry=1", "bool(carry)=True",
                          f"result={[carry] + result}"))
        result.insert(0, carry)
    else:
        out.append(_block("3. Check Remaining Carry", *check, f"result={result}", "carry=0", "bool(carry)=False", "pass",
                          f"result={result}"))
    out.append(_block("4. Return Result", _FENCE, "return result", _FENCE, f"result={result}", "") + f"\n{result}")
    return "".join(out)


def rfft_answer(text: str) -> str | None:
    """The digits of the list a trace returns (its last line, `[7, 2]` -> "72"), or None."""
    last = text.rstrip().rsplit("\n", 1)[-1].strip()
    if not (last.startswith("[") and last.endswith("]")):
        return None
    digits = [d.strip() for d in last[1:-1].split(",")]
    return "".join(digits) if digits and all(d.isdigit() and len(d) == 1 for d in digits) else None
