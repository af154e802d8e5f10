/* Does not compile with clang: GNU nested function. */
int outer(int x)
{
    int inner(int y) { return y + x; }
    return inner(1);
}
int main(void) { return outer(1) - 2; }
